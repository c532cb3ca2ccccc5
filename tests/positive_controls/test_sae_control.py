"""The SAE positive control (speechneurons.findings.sae_control): the planted dictionary and its
null twin, the recovery of the atoms, the verdict rows, and their place on the findings page."""

import numpy as np
import pandas as pd
import pytest

from speechneurons.config import defaults
from speechneurons.findings.positive_controls import SAE_TWINS, control_table
from speechneurons.findings.sae_control import (
    TWINS,
    SaeControlSettings,
    atom_probabilities,
    null_twin,
    planted_activations,
    planted_dictionary,
    recovery,
    sae_control,
)
from speechneurons.findings.saes import NAMES

#: the SAE claims of the findings page, in its order (speechneurons.findings.saes.sae_findings)
CLAIMS = [
    "Feature-choice SAEs leave no latent dead",
    *(f"{NAMES[a].capitalize()} SAEs reconstruct better than TopK at equal mean L0" for a in NAMES),
    "Feature densities follow a Zipf law",
    *(f"{NAMES[a].capitalize()} SAEs give harder tokens more latents" for a in NAMES),
]


def _small(**kw) -> SaeControlSettings:
    base = dict(d=32, n_atoms=32, zipf_exponent=1.0, mean_active=2.0, noise=0.02, train_tokens=8000,
                heldout_tokens=1200, tokens_per_utterance=40, k=2, k_sweep=(1, 4), expansion_factor=2.0, steps=300,
                recovery_cosine=0.9)  # fmt: skip
    return SaeControlSettings(**(base | kw))


def test_atom_probabilities_follow_the_zipf_law_and_sum_to_the_mean():
    p = atom_probabilities(100, 1.3, 3.0)
    assert p.sum() == pytest.approx(3.0)
    slope = np.polyfit(np.log(np.arange(1, 101)), np.log(p), 1)[0]
    assert slope == pytest.approx(-1.3)
    assert np.allclose(atom_probabilities(10, 0.0, 2.0), 0.2)  # exponent 0: all equally frequent
    with pytest.raises(ValueError, match="too large"):
        atom_probabilities(10, 1.0, 5.0)


def test_planted_frequencies_are_zipf_and_the_twin_keeps_the_covariance():
    rng = np.random.default_rng(0)
    atoms = planted_dictionary(30, 12, rng)
    assert np.allclose(np.linalg.norm(atoms, axis=1), 1.0)
    p = atom_probabilities(30, 1.0, 2.0)
    x, active = planted_activations(40000, atoms, p, 0.01, rng)
    freq = active.mean(0)
    assert np.allclose(freq, p, atol=0.01)
    assert np.polyfit(np.log(np.arange(1, 31)), np.log(freq), 1)[0] == pytest.approx(-1.0, abs=0.05)
    assert active.sum(1).std() > 0.5  # the number of active atoms varies between tokens
    twin = null_twin(x, 40000, rng)
    assert np.allclose(np.cov(twin, rowvar=False), np.cov(x, rowvar=False), atol=0.02)
    assert np.allclose(twin.mean(0), x.mean(0), atol=0.02)


def test_recovery_counts_atoms_with_a_close_decoder_direction():
    atoms = np.eye(4)
    share, best = recovery(np.vstack([np.eye(4)[:3] * 5.0, [[1.0, 1.0, 1.0, 1.0]]]), atoms, 0.9)
    assert share == 0.75 and best[3] == pytest.approx(0.5)


@pytest.fixture(scope="module")
def control():
    """The control on a small dictionary (32 atoms in 32 dimensions, 300 steps), three
    architectures; the convergence check is off (tolerance 1), these SAEs are not converged."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two threads on a busy 2-core machine cost ten times the CPU time
    try:
        section = defaults()["saes"] | {"architectures": ["topk", "mutual_choice", "feature_choice"],
                                        "convergence_tolerance": 1.0}  # fmt: skip
        yield sae_control(_small(), section, seed=0, resamples=50, level=0.95)
    finally:
        torch.set_num_threads(threads)


def test_topk_recovers_the_planted_atoms_and_nothing_in_the_null_twin(control):
    rec = control.saes.dropna(subset=["recovered_share"]).set_index(["twin", "architecture", "k"]).sort_index()
    assert rec.loc[("planted", "topk", 2), "recovered_share"] >= 0.8
    assert (rec.loc["null twin", "recovered_share"] <= 0.1).all()
    assert (rec.loc["planted", "recovered_share"] >= 0.5).all()


def test_verdict_rows_are_the_findings_claims_on_both_twins(control):
    v = control.verdicts
    assert list(pd.unique(v["twin"])) == list(TWINS)
    assert v.groupby("twin", sort=False)["claim"].apply(list).tolist() == [CLAIMS, CLAIMS]
    verdicts = v.set_index(["twin", "claim"])["verdict"]
    # feature choice fires every latent (its capacities), whatever the data
    assert verdicts["planted", "Feature-choice SAEs leave no latent dead"] == "holds"
    # Gaussian activations hold no dictionary: no adaptive rule reconstructs them better than TopK
    for arch in NAMES.values():
        assert (
            verdicts["null twin", f"{arch.capitalize()} SAEs reconstruct better than TopK at equal mean L0"] != "holds"
        )
    # the SAE stage's Zipf test on the planted frequencies themselves is kept beside the SAEs', and
    # it keeps the planted law (alpha = 1 + 1 / s = 2; with x_min fixed at 1 it rejected it)
    truth = control.saes[control.saes["architecture"].str.startswith("planted atoms")]
    assert len(truth) == 1 and abs(float(truth["zipf_alpha"].iloc[0]) - 2.0) < 0.2
    assert control.truth_zipf["p_value"] > 0.1


def test_the_page_shows_both_twins_for_the_sae_claims_only():
    own = pd.DataFrame({"study": ["S", "S"], "claim": ["Feature densities follow a Zipf law", "other"],
                        "verdict": ["not measurable here"] * 2})  # fmt: skip
    control = pd.DataFrame({"twin": ["planted", "null twin"], "claim": ["Feature densities follow a Zipf law"] * 2,
                            "verdict": ["holds", "does not hold"], "value": [2.0, float("nan")]})  # fmt: skip
    t = control_table(own, [], {}, None, control)
    assert t[SAE_TWINS["planted"]].tolist() == ["holds (2)", ""]
    assert t[SAE_TWINS["null twin"]].tolist() == ["does not hold", ""]
    assert control_table(own, [], {}, None)[SAE_TWINS["planted"]].tolist() == ["", ""]


def test_control_section_reads_the_sae_control_and_says_when_absent(tmp_path):
    from speechneurons.findings.positive_controls import control_section

    own = pd.DataFrame({"study": ["S"], "claim": ["Feature densities follow a Zipf law"], "verdict": ["x"]})
    _, note, frame = control_section(own, [], None, str(tmp_path / "absent.tsv"))
    assert "positive_controls.saes.enabled: false" in note and SAE_TWINS["planted"] not in frame
    path = tmp_path / "saes.tsv"
    control = pd.DataFrame({"twin": ["planted", "null twin"], "claim": [own["claim"][0]] * 2,
                            "verdict": ["does not hold"] * 2, "value": [1.24, 1.22]})  # fmt: skip
    control.to_csv(path, sep="\t", index=False)
    _, note, frame = control_section(own, [], None, str(path))
    assert frame[SAE_TWINS["planted"]].tolist() == ["does not hold (1.24)"]
    assert frame[SAE_TWINS["null twin"]].tolist() == ["does not hold (1.22)"]
    assert "positive_controls.saes.enabled" not in note
