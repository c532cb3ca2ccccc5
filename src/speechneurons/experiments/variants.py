"""The names of the experiments' model variants, in a module without heavy imports: the workflow
reads them while it builds the DAG (speechneurons.study), and the pruning and erasure modules,
which import torch, take them from here."""

#: pruning strategies scored at each sparsity
STRATEGIES = ("norm", "protect", "random", "protect_random")
#: the authors' headline setting: keep exactly the property neurons of each layer, against the
#: same per-layer widths kept by norm and by a matched random set
KEEP_STRATEGIES = ("keep_property", "keep_norm", "keep_random")
#: every erasure runs with its property neurons and with their matched random control
ERASURE_KINDS = ("property", "random")
