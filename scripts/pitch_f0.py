"""F0 of every manifest utterance with Praat, on the model frame grid -> f0.parquet (+ skipped.tsv)."""

from speechneurons.logs import script_logging
from speechneurons.pitch.jobs import f0

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    f0(snakemake.input, snakemake.output, snakemake.params)
