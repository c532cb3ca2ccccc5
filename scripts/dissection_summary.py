"""The dissected layers together: uninterpretable share per layer and kind with its chance
level (summary.tsv), and the agreement with property neurons of every layer (agreement.tsv)."""

from speechneurons.dissection.jobs import summary
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    summary(snakemake.input, snakemake.output, snakemake.params)
