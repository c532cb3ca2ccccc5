"""SAEs of one layer and architecture: train every budget on the train rows of the `sample`
frames, evaluate on held-out rows, and run the property statistic on the latents (at k) of
the `mid` frames, with the permutation chance level of the properties stage."""

from speechneurons.logs import script_logging
from speechneurons.saes.jobs import layer

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    layer(snakemake.input, snakemake.output, snakemake.params, snakemake.threads)
