"""Summary of the property neurons over layers: per-layer folders -> summary.tsv."""
from pathlib import Path

from speechneurons.io import write_table
from speechneurons.logs import script_logging
from speechneurons.properties.statistic import summarize

with script_logging(snakemake.log[0]) as log:
    summary = summarize([Path(f).parent for f in snakemake.input.neurons])
    write_table(summary, snakemake.output.summary)
    log.info("\n%s", summary[["layer", "n_phone_type", "n_gender", "n_pitch", "overlap_gender_pitch"]].to_string())
