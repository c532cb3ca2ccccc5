"""Minutes of audio per speaker, coloured by gender."""

from speechneurons.corpus.figures import plot_minutes_per_speaker
from speechneurons.corpus.manifest import read_manifest
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    plot_minutes_per_speaker(read_manifest(snakemake.input.manifest), snakemake.output.png)
