"""saes.tsv, saes_recovery.tsv and saes.png: the SAE claims on simulated activations with a
planted sparse dictionary and on its null twin (docs/positive-controls.md)."""

from speechneurons.findings.jobs import findings_sae_control
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    findings_sae_control(snakemake.input, snakemake.output, snakemake.params)
