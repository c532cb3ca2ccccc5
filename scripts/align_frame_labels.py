"""Frame labels (utt_id, frame, phone, word, is_mid) on the model frame grid from the TextGrids."""

from speechneurons.align.jobs import frame_labels
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    frame_labels(snakemake.input, snakemake.output, snakemake.params)
