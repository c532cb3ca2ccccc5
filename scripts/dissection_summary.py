"""The dissected layers together: uninterpretable share per layer and kind with its chance
level (summary.tsv), and the agreement with property neurons of every layer (agreement.tsv)."""

import pandas as pd

from speechneurons.dissection.tables import summary_table
from speechneurons.io import read_json, read_table, write_table
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    summary = summary_table([read_json(path) for path in snakemake.input.summaries])
    agreement = pd.concat([read_table(path) for path in snakemake.input.agreements], ignore_index=True)
    log.info("\n%s", summary.to_string(index=False))
    write_table(summary, snakemake.output.summary)
    write_table(agreement, snakemake.output.agreement)
