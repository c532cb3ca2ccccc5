"""Property-neuron statistics of one layer: mid.npy + index_mid.parquet -> neurons.json, P.npz,
R.parquet, counts.tsv, skipped.tsv (docs/property-neurons.md), and what the counts mean: one
null per property (speakers relabeled for gender, labels shifted circularly within each
utterance for phone type and pitch) and the bootstrap replicates over speakers and over
utterances within speaker (null.tsv, replicates.tsv), the min_count
sensitivity, the silhouette of P(. | c, g) by group and the pitch neurons under the other
pitch binning (pitch_binning.tsv)."""

from speechneurons.logs import script_logging
from speechneurons.properties.jobs import layer

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    layer(snakemake.input, snakemake.output, snakemake.params, snakemake.threads)
