"""The experiments' linear probes (phone, speaker, gender, F0) on every layer of every analysed
checkpoint, on the utterances the PWCCA measures: test errors with bootstrap intervals."""

from speechneurons.logs import script_logging
from speechneurons.trajectories.jobs import probes

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    probes(snakemake.input, snakemake.output, snakemake.params, snakemake.threads)
