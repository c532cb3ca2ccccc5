"""The one results layout: paths from the config, wildcards by default."""

from __future__ import annotations

from speechneurons.config import validate_config
from speechneurons.layout import Layout


def layout(**config):
    return Layout(validate_config({"results_dir": "out", **config}))


def test_defaults_are_wildcards_and_values_fill_them():
    L = layout()
    assert L.manifest() == "out/{corpus}/corpus/manifest.tsv"
    assert L.manifest("synth") == "out/synth/corpus/manifest.tsv"
    assert L.activation_array() == "out/{corpus}/activations/{model}/{checkpoint}/layer-{layer}/{subset}.npy"
    assert L.activation_array("mid", 3, "c", "m", "final") == "out/c/activations/m/final/layer-3/mid.npy"
    assert L.property_neurons(2, "c", "m", "step-50") == "out/c/properties/m/step-50/layer-2/neurons.json"


def test_sparsity_is_formatted_like_its_wildcard():
    L = layout()
    assert L.pruned_plan("norm", 0.25, "c", "m") == "out/c/experiments/m/prune/norm/sparsity-0.25/plan.tsv"
    assert L.pruned_plan("norm", 0.5, "c", "m").endswith("sparsity-0.5/plan.tsv")
    assert L.pruned_plan() == "out/{corpus}/experiments/{model}/prune/{strategy}/sparsity-{sparsity}/plan.tsv"


def test_checkpoints_live_in_the_iteration_that_saved_them():
    L = layout(
        model={"name": "m"},  # the checkpoint's iteration comes from the named model's pretraining
        pretrain={
            "iterations": [{"steps": 100}, {"steps": 50, "targets": "layer", "init": "resume"}],
            "checkpoint_steps": [0, 50],
        },
    )
    m = "m"  # the layout reads the schedule of the model it is asked about
    assert L.checkpoint_dir("c", m, "step-0") == f"out/c/models/{m}/iteration-1/checkpoints/step-0"
    assert L.checkpoint_dir("c", m, "step-150") == f"out/c/models/{m}/iteration-2/checkpoints/step-150"
    assert L.checkpoint_dir("c", m, "final") == f"out/c/models/{m}/iteration-2/final"


def test_a_compared_model_has_its_own_schedule():
    L = layout(compare={"models": [{"name": "short", "pretrain": {"iterations": [{"steps": 40}]}}]})
    assert L.checkpoint_dir("c", "short", "final") == "out/c/models/short/iteration-1/final"


def test_logs_and_benchmarks_live_under_the_results_dir():
    L = layout()
    assert L.log("c", "pitch", "f0") == "out/logs/c/pitch/f0.log"
    assert L.benchmark("c", "pitch", "f0") == "out/benchmarks/c/pitch/f0.tsv"
