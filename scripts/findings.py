"""findings.tsv and findings.html: the claims of the four studies checked on this run's tables,
grouped by study on the page."""

from speechneurons.findings.jobs import findings_page
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    findings_page(snakemake.input, snakemake.output, snakemake.params)
