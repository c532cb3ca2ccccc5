"""Phone error rate on test against the number n of re-initialised top layers, with bootstrap
intervals over test utterances and the paired difference to n = 0."""

import pandas as pd

from speechneurons.io import drop_timings, read_table, write_table
from speechneurons.logs import script_logging
from speechneurons.trajectories.finetune import LR_COLUMNS, ResetTopRun, summarize_reset_top

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    p, inp, out = snakemake.params, snakemake.input, snakemake.output
    runs = []
    for n, per_utt, train_log, rates in zip(p.n_reset, inp.per_utterance, inp.train_logs, inp.rates):
        r = read_table(rates)
        runs.append(
            ResetTopRun(
                int(n),
                read_table(per_utt),
                read_table(train_log),
                r[LR_COLUMNS],
                int(r["n_train"].iloc[0]),
                int(r["n_dev"].iloc[0]),
                float("nan"),
            )
        )  # fmt: skip (the time is in the run's log)
    result = summarize_reset_top(runs, p.resamples, p.seed, p.level)
    log.info("reset-top PER:\n%s", result.summary.round(3).to_string(index=False))
    write_table(drop_timings(result.summary), out.table)
    write_table(pd.concat([r.rates for r in runs], ignore_index=True), out.rates)
    write_table(result.per_utterance, out.per_utterance)
