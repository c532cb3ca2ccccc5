# Input functions and path helpers shared by the rules (functions only, no rules).
from speechneurons.frames import FrameGrid


def results(*parts):
    """A path under the results folder of this config."""
    return "/".join([config["results_dir"], *map(str, parts)])


def corpus_dir(wildcards=None):
    """Folder of the configured corpus: results/<corpus>/corpus."""
    return results(config["corpus"]["name"], "corpus")


def frame_grid():
    """The model frame grid of this config (labels, pitch and activations share it)."""
    return FrameGrid.from_config(config["frames"])
