"""The saes section's workflow keys resolved against the dumped layers, with clear errors."""

import pytest

from speechneurons.saes.plan import sae_plan
from tests.helpers.config import default_section


def test_defaults_first_middle_last_and_the_middle_for_sweep_and_splicing():
    plan = sae_plan(default_section("saes", k=32, k_sweep=[16, 64, 32]), range(1, 7), 3)
    assert plan.layers == (1, 3, 6) and plan.sweep_layers == plan.splice_layers == (3,)
    assert plan.ks(3) == [32, 16, 64] and plan.ks(1) == [32] and plan.ks(1, "mutual_choice") == [32]
    # TopK, the reference of the equal-L0 comparison, has its FVU-L0 curve at every SAE layer
    assert plan.ks(1, "topk") == plan.ks(6, "topk") == plan.ks(3, "feature_choice") == [32, 16, 64]
    assert plan.ks(2, "topk") == [32]  # no SAEs at layer 2
    assert sae_plan(default_section("saes"), [1, 2], 3).layers == (1, 2)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (dict(layers=[7]), "saes.layers"),
        (dict(layers=[1, 2], sweep_layers=[3]), "saes.sweep_layers"),
        (dict(splice_layers=[2]), "saes.splice_layers"),
        (dict(architectures=["topk"], erasure_architectures=["mutual_choice"]), "saes.erasure_architectures"),
        (dict(erasures=["pitch-7"]), "not a group"),
    ],
)
def test_keys_that_do_not_fit_are_named(overrides, message):
    with pytest.raises(ValueError, match=message):
        sae_plan(default_section("saes", **overrides), range(1, 7), 3)
