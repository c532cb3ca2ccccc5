"""The items of a dump with their attributes and captions: one per phone segment (a row of the
mid dump) and one per utterance, measured from the labels and the audio."""

from speechneurons.dissection.jobs import items
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    items(snakemake.input, snakemake.output, snakemake.params)
