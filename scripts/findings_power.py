"""power.tsv and power.png: the power of the property-neuron claims on simulated runs with
planted units (docs/positive-controls.md)."""

from speechneurons.findings.jobs import findings_power
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    findings_power(snakemake.input, snakemake.output, snakemake.params)
