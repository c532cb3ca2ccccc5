"""The input functions' plan for the CTC fine-tuned twin (checkpoint 'ctc', dissection.ctc_twin)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from speechneurons.config import validate_config
from speechneurons.inputs import Inputs
from speechneurons.layout import Layout
from speechneurons.study import CTC_TWIN, Study


def inputs(twin: bool, **config) -> Inputs:
    config = validate_config({"results_dir": "out", "model": {"name": "m"}, "dissection": {"ctc_twin": twin}, **config})
    return Inputs(Layout(config), Study(config))


W = SimpleNamespace(corpus="c", model="m")


def test_the_twin_is_the_saved_n0_fine_tuning_and_loads_like_a_checkpoint():
    I = inputs(True)
    folder = "out/c/trajectories/m/reset_top/n-0/model"
    assert I.L.ctc_twin_dir("c", "m") == I.L.checkpoint_dir("c", "m", CTC_TWIN) == folder
    assert I.L.reset_top_rates(0, "c", "m").startswith("out/c/trajectories/m/reset_top/n-0/")
    assert I.model_input(W, CTC_TWIN) == I.model_ref(W, CTC_TWIN) == folder
    assert I.checkpoint_input(SimpleNamespace(**vars(W), checkpoint=CTC_TWIN)) == folder
    # the other checkpoints are untouched
    assert I.model_input(W, "final") == I.L.checkpoint_dir("c", "m", "final") != folder
    assert I.model_ref(W, "random") == I.L.checkpoint_dir("c", "m", "final")


@pytest.mark.parametrize("twin", [False, True])
def test_the_findings_read_the_twin_only_with_the_switch(twin):
    I = inputs(twin, dissection={"ctc_twin": twin, "layers": [1, 2]})
    assert I.S.ctc_twin() is twin
    neurons, similarity = I.twin_files(I.L.dissection_neurons)(W), I.twin_files(I.L.dissection_similarity)(W)
    if not twin:
        assert neurons == [] and similarity == []
        return
    assert neurons == [I.L.dissection_neurons(layer, "c", "m", CTC_TWIN) for layer in (1, 2)]
    assert similarity == [I.L.dissection_similarity(layer, "c", "m", CTC_TWIN) for layer in (1, 2)]
    assert all("/ctc/" in path for path in neurons + similarity)


def test_the_switch_is_off_by_default():
    assert Study(validate_config({"results_dir": "out"})).ctc_twin() is False
