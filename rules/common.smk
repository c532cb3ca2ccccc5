# Input functions and path helpers shared by the rules (functions only, no rules: snakemake
# --lint asks for that). Paths follow the layout documented in the README, "Outputs".
from speechneurons.frames import FrameGrid


def results(*parts):
    """A path under the results folder of this config: results/<parts...>."""
    return "/".join([config["results_dir"], *map(str, parts)])


def corpus_name():
    return config["corpus"]["name"]


def frame_grid():
    """The model frame grid of this config (labels, pitch and activations share it)."""
    return FrameGrid.from_config(config["frames"])


def manifest_path(wildcards=None):
    """results/<corpus>/corpus/manifest.tsv"""
    return results(corpus_name(), "corpus", "manifest.tsv")


def frame_labels_path(wildcards=None):
    """Frame labels of the configured aligner: results/<corpus>/labels/<aligner>/frame_labels.parquet"""
    return results(corpus_name(), "labels", config["align"]["aligner"], "frame_labels.parquet")


def pitch_frames_path(wildcards=None):
    """Per-frame F0 and pitch groups: results/<corpus>/pitch/pitch_frames.parquet"""
    return results(corpus_name(), "pitch", "pitch_frames.parquet")
