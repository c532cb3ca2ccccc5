"""speechneurons: neuron-level interpretability of self-supervised speech transformers.

The package holds all logic of the Snakemake workflow; rules and scripts only call into it.
"""

__version__ = "0.1.0"
