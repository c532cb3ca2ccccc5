"""Layer curves coloured by checkpoint and checkpoint x layer heat maps of every PWCCA view and
every probe task."""

from speechneurons.logs import script_logging
from speechneurons.trajectories.jobs import figures

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    figures(snakemake.input, snakemake.output, snakemake.params)
