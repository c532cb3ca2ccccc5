"""Property-neuron counts of every count checkpoint, per layer, by pretraining step."""

from speechneurons.io import read_table, write_table
from speechneurons.logs import script_logging
from speechneurons.trajectories.tables import gather_counts

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    p = snakemake.params
    summaries = {c: read_table(f) for c, f in zip(p.checkpoints, snakemake.input.summaries)}
    table = gather_counts(summaries, p.steps)
    log.info("counts per checkpoint:\n%s", table.groupby("checkpoint", sort=False)[
        ["n_phone_type", "n_gender", "n_pitch"]].sum().to_string())  # fmt: skip
    write_table(table, snakemake.output.table)
