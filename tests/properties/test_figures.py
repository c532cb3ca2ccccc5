"""Figures of the property statistics: files are written, Venn regions are exclusive."""

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from speechneurons.io import read_json, read_table
from speechneurons.properties import figures as pf
from speechneurons.properties import statistic as pr
from speechneurons.properties import tables as pt

PNG = b"\x89PNG\r\n\x1a\n"


def neurons_doc(phone, gender, pitch, layer=1):
    empty = {
        "phone_type": {"vowel": [], "voiced_consonant": [], "unvoiced_consonant": []},
        "gender": {"F": [], "M": []},
        "pitch": {"0": [], "1": [], "2": []},
    }
    return {
        "layer": layer,
        "D": 50,
        "tau": 1,
        "sigma": 0.8,
        "group_neurons": empty,
        "exclusive_group_neurons": empty,
        "property_neurons": {"phone_type": sorted(phone), "gender": sorted(gender), "pitch": sorted(pitch)},
    }


def test_venn_labels_are_exclusive_region_sizes():
    # T = phone type, G = gender, P = pitch. Raw |G & P| = 4 but only 3 are not also in T.
    T, G, P = {1, 2, 3, 10}, {3, 4, 5, 6, 7, 10}, {5, 6, 7, 8, 10}
    doc = neurons_doc(T, G, P)
    fig, ax = plt.subplots()
    v = pf.draw_venn(ax, doc)
    want = {"100": 2, "010": 1, "110": 1, "001": 1, "101": 0, "011": 3, "111": 1}
    assert dict(zip(pr.VENN3_ORDER, pr.venn3_regions(T, G, P))) == want
    for region, size in want.items():
        label = v.get_label_by_id(region)
        if size:  # empty regions are not drawn in the area-weighted layout
            assert label.get_text() == str(size)
    plt.close(fig)


def test_plot_venn_with_empty_sets_writes_png(tmp_path):
    out = tmp_path / "venn.png"
    regions = pf.plot_venn(neurons_doc({1}, set(), set()), out)
    assert regions == (1, 0, 0, 0, 0, 0, 0)
    assert out.read_bytes()[:8] == PNG
    assert [p.name for p in tmp_path.iterdir()] == ["venn.png"]


def summary_table():
    rows = [pt.summary_row(neurons_doc(set(range(l)), {0, 1, 2}, {1, 2, 9}, layer=l), 100) for l in (1, 2, 3)]
    return pd.DataFrame(rows)


def test_counts_and_overlap_figures(tmp_path):
    s = summary_table()
    assert s["overlap_gender_pitch"].tolist() == [2, 2, 2]
    assert s["venn_011"].tolist() == [2, 1, 0]  # {1, 2} minus T = range(l)
    pf.plot_counts_per_layer(s, tmp_path / "counts.png", title="t")
    pf.plot_overlaps_per_layer(s, tmp_path / "overlaps.png")
    for name in ("counts.png", "overlaps.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG


def test_strongest_neurons_rank_by_R_then_mean_P_then_index():
    R = np.array([0.5, 1.0, 1.0, 0.0, 1.0])
    P = np.array([[0.1, 0.2, 0.9, 0.0, 0.2], [0.1, 0.2, 0.9, 0.0, 0.2], [np.nan] * 5])
    in_C = np.array([True, True, False])
    assert pf.strongest_neurons(R, P, in_C, 4).tolist() == [2, 1, 4, 0]


def test_heatmaps_from_layer_outputs(tmp_path):
    from tests.properties.test_statistic import PLANT, compute, layer_paths, make_index, planted

    index = make_index()
    pt.write_layer(compute(planted(index, PLANT), index), **layer_paths(tmp_path / "layer-1"))
    d = tmp_path / "layer-1"
    with np.load(d / "P.npz") as npz:
        pf.plot_heatmaps(
            dict(npz),
            pd.read_parquet(d / "R.parquet"),
            read_table(d / "counts.tsv"),
            read_json(d / "neurons.json"),
            tmp_path / "heat.png",
            n_neurons=5,
            n_pitch_bins=3,
        )
    assert (tmp_path / "heat.png").read_bytes()[:8] == PNG


@pytest.mark.parametrize("requested,want", [([], [1, 6, 12]), ([3, 3, 1], [1, 3])])
def test_figure_layers(requested, want):
    assert pt.figure_layers(requested, range(1, 13)) == want
    assert pt.figure_layers([], [2]) == [2]
    with pytest.raises(ValueError, match="venn_layers"):
        pt.figure_layers([13], range(1, 13))


def test_strongest_neurons_put_exclusive_neurons_first():
    R = np.array([1.0, 0.9, 1.0])
    P = np.ones((2, 3))
    assert pf.strongest_neurons(R, P, np.array([True, True]), 3, first=np.array([False, True, False])).tolist() == [
        1,
        0,
        2,
    ]
