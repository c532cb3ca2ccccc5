"""The PWCCA of every analysed checkpoint in one table by pretraining step, and what it shows:
the layer of peak phone PWCCA and whether the top layer's log-Mel PWCCA rises again."""

import pandas as pd

from speechneurons.io import read_table, write_table
from speechneurons.logs import script_logging
from speechneurons.trajectories.tables import add_steps, findings, sort_by_checkpoint

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    inp, out = snakemake.input, snakemake.output
    steps = snakemake.params.steps
    pwcca = pd.concat([read_table(f) for f in inp.summaries], ignore_index=True)
    trials = pd.concat([read_table(f) for f in inp.trials], ignore_index=True)
    pwcca = sort_by_checkpoint(add_steps(pwcca, steps), "view", "layer")
    trials = sort_by_checkpoint(add_steps(trials, steps), "view", "layer", "trial")
    table = findings(pwcca, trials)
    for row in table.itertuples(index=False):
        log.info("%s: peak phone PWCCA at layer %s (%.3f); log-Mel top %s min %s rise %.3f", row.checkpoint,
                 row.peak_phone_layer, row.peak_phone_pwcca, getattr(row, "mel_top_layer", "-"),
                 getattr(row, "mel_min_layer", "-"), getattr(row, "mel_rise", float("nan")))  # fmt: skip
    write_table(pwcca, out.pwcca)
    write_table(trials, out.trials)
    write_table(table, out.findings)
