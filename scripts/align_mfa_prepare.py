"""Write the MFA corpus folder (<speaker>/<utt>.wav links and .lab transcripts)."""

from speechneurons.align.jobs import mfa_prepare
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    mfa_prepare(snakemake.input, snakemake.output, snakemake.params)
