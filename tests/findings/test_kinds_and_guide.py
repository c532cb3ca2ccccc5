"""Known answers of the findings rows of AND's model behaviours and of Pasad's layer guide."""

import numpy as np
import pandas as pd

from speechneurons.findings.claims import FAILS, HOLDS, UNMEASURED
from speechneurons.findings.dissection_kinds import kinds_findings, twin_layers
from speechneurons.findings.layer_guide import claim_layer_guide, layer_guide_findings


def layer_tables(layer, n_acoustic, n_linguistic):
    tops = ["loudness"] * n_acoustic + ["phone_type"] * n_linguistic
    n = len(tops)
    neurons = pd.DataFrame({"layer": layer, "kind": "phone", "neuron": range(n), "interpretable": True,
                            "concepts": [f"{a}=high" for a in tops]})  # fmt: skip
    shared = pd.DataFrame({"layer": layer, "kind": "phone", "neuron": range(n), "side": "top", "attribute": tops})
    return neurons, shared


def run(trained, control=(), ssl=None, twin=None):
    ns, ss = zip(*trained, strict=True)
    cn, cs = (list(x) for x in zip(*control, strict=True)) if control else ([], [])
    return kinds_findings(list(ns), list(ss), cn, cs, ssl or {}, twin, 0.8, 300, 0, 0.95)


def test_acoustic_lean_holds_beyond_a_neutral_control():
    trained = [layer_tables(1, 80, 20), layer_tables(2, 70, 30)]
    control = [layer_tables(1, 50, 50), layer_tables(2, 50, 50)]
    top, desc, *_ = run(trained, control)
    assert top.verdict == HOLDS and desc.verdict == HOLDS
    assert abs(top.value - 50) < 1e-9 and top.chance_high < top.value
    assert "control (random weights)" in top.why


def test_acoustic_lean_that_random_weights_give_too_is_not_measurable():
    trained = [layer_tables(1, 80, 20)]
    control = [layer_tables(1, 85, 15)]
    top = run(trained, control)[0]
    assert top.verdict == UNMEASURED and "chance range" in top.why


def test_linguistic_lean_does_not_hold_and_no_control_is_said():
    top = run([layer_tables(1, 10, 90)])[0]
    assert top.verdict == FAILS and "no control" in top.why


def twin_of(n_concepts, interpretable, layer):
    sim = np.zeros((len(interpretable), 10))
    for i, k in enumerate(n_concepts):
        sim[i, :k] = 1.0
    return interpretable, sim


def test_narrower_fine_tuned_twin_holds_and_broader_does_not():
    rng = np.random.default_rng(0)
    ssl = {x: twin_of(rng.integers(3, 6, 200), rng.random(200) < 0.4, x) for x in (1, 2, 3)}
    narrow = {x: twin_of(rng.integers(1, 3, 200), rng.random(200) < 0.3 + 0.15 * x, x) for x in (1, 2, 3)}
    rows = run([layer_tables(1, 5, 5)], ssl=ssl, twin=narrow)
    assert [r.verdict for r in rows[2:]] == [HOLDS, HOLDS]
    rows = run([layer_tables(1, 5, 5)], ssl=narrow, twin=ssl)
    assert [r.verdict for r in rows[2:]] == [FAILS, FAILS]
    rows = run([layer_tables(1, 5, 5)], ssl=ssl)
    assert [r.verdict for r in rows[2:]] == [UNMEASURED, UNMEASURED] and "not dissected" in rows[2].why


def test_twin_layers_reads_phone_tables():
    neurons = pd.DataFrame({"layer": 2, "kind": ["phone", "phone", "utterance"], "neuron": [1, 0, 0],
                            "interpretable": ["True", "False", "True"]})  # fmt: skip
    out = twin_layers([neurons], [{"phone__similarity": np.eye(2)}])
    assert list(out) == [2] and out[2][0].tolist() == [False, True]


def pwcca_and_losses(errors, guide, task="phone"):
    layers = range(len(guide))
    pwcca = pd.DataFrame({"checkpoint": "final", "layer": layers, "view": "phone", "dev_pwcca": guide,
                          "pwcca": 0.5})  # fmt: skip
    rng = np.random.default_rng(1)
    rows = [
        dict(task=task, layer=x, utt_id=f"u{u}", loss_sum=float(np.clip(100 * e + rng.normal(0, 2), 0, 100)),
             n_items=100, checkpoint="final")
        for x, e in zip(layers, errors, strict=True)
        for u in range(30)
    ]  # fmt: skip
    return pwcca, pd.DataFrame(rows)


def test_layer_guide_holds_when_pwcca_ranks_as_the_probe_and_fails_when_reversed():
    guide = np.array([0.2, 0.4, 0.6, 0.8, 0.7, 0.5, 0.3])
    phone, word = layer_guide_findings(*pwcca_and_losses(0.9 - guide, guide), 300, 0, 0.95)
    assert phone.verdict == HOLDS and abs(phone.value - 1) < 1e-9
    assert "exact" in phone.why and "PWCCA peak layer 3, best probe layer 3" in phone.why
    assert word.verdict == UNMEASURED and "no word PWCCA" in word.why
    reversed_ = claim_layer_guide(*pwcca_and_losses(0.1 + guide, guide), "phone", 300, 0, 0.95)
    assert reversed_.verdict == FAILS


def test_layer_guide_never_uses_test_pwcca():
    pwcca, losses = pwcca_and_losses([0.5] * 4, [0.1, 0.2, 0.3, 0.4])
    row = claim_layer_guide(pwcca.drop(columns="dev_pwcca"), losses, "phone", 50, 0, 0.95)
    assert row.verdict == UNMEASURED and "dev_pwcca" in row.why
