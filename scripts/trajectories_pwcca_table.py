"""The PWCCA of every analysed checkpoint in one table by pretraining step, and what it shows:
the layer of peak phone PWCCA and whether the top layer's log-Mel PWCCA rises again."""

from speechneurons.logs import script_logging
from speechneurons.trajectories.jobs import pwcca_table

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    pwcca_table(snakemake.input, snakemake.output, snakemake.params)
