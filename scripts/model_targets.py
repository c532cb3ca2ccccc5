"""Frame targets of one pretraining iteration: k-means of MFCC + deltas (targets 'mfcc') or of a
layer of the previous iteration's model (targets 'layer'), fitted on the pretraining splits and
assigned to every utterance (held-out utterances get targets to score the model on, never to
fit or train); one label per model frame, and the cluster centres."""

from speechneurons.logs import script_logging
from speechneurons.model.jobs import targets

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    targets(snakemake.input, snakemake.output, snakemake.params, snakemake.threads)
