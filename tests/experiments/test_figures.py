"""The pruning bars and the erasure heat map are drawn from tables shaped like the real ones."""

from __future__ import annotations

import numpy as np
import pandas as pd

from speechneurons.experiments.figures import erasure_heatmap_cells, plot_erasure, plot_pruning


def _pruning_table():
    rows = [
        dict(
            strategy="unpruned",
            sparsity=0.0,
            task="phone",
            metric="frame_phone_error_pct",
            layer=2,
            layer_role="last+best",
            value=30.0,
            ci_low=28.0,
            ci_high=32.0,
        )
    ]
    for st in ("norm", "protect", "random", "protect_random", "keep_norm", "keep_property", "keep_random"):
        for sp in (0.25, 0.5) if not st.startswith("keep") else (0.93,):
            v = 30 + sp * {"norm": 20, "protect": 10, "random": 40, "protect_random": 18}.get(st, 25)
            rows.append(
                dict(
                    strategy=st,
                    sparsity=sp,
                    task="phone",
                    metric="frame_phone_error_pct",
                    layer=2,
                    layer_role="last+best",
                    value=v,
                    ci_low=v - 2,
                    ci_high=v + 2,
                )
            )
    return pd.DataFrame(rows)


def _erasure_table():
    rows = []
    for group, hit in (("M", "gender=M"), ("F", "gender=F")):
        for kind in ("property", "random"):
            for ev in ("all", "gender=F", "gender=M"):
                d = 20.0 if (kind == "property" and ev == hit) else 2.0
                rows.append(
                    dict(
                        erasure=f"gender-{group}",
                        property="gender",
                        group=group,
                        kind=kind,
                        n_erased=12,
                        task="sid",
                        metric="sid_error_pct",
                        layer=3,
                        layer_role="last",
                        eval_group=ev,
                        value=d,
                        ci_low=d - 1,
                        ci_high=d + 1,
                        delta=d,
                        delta_ci_low=d - 3,
                        delta_ci_high=d + 3,
                    )
                )
    return pd.DataFrame(rows)


def test_plot_pruning_writes_png(tmp_path):
    out = tmp_path / "fig" / "pruning.png"
    plot_pruning(_pruning_table(), out, title="tiny")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_erasure_heatmap_cells_are_the_2x2_layout(tmp_path):
    rows, cols, values, texts = erasure_heatmap_cells(_erasure_table(), "gender", 3)
    assert cols == ["gender=F", "gender=M", "all"]
    assert rows == ["erase F [12]", "random (F size) [12]", "erase M [12]", "random (M size) [12]"]
    np.testing.assert_allclose(values[:, :2], [[20, 2], [2, 2], [2, 20], [2, 2]])
    assert texts[0][0] == "+20.0\n[+17.0, +23.0]"
    out = tmp_path / "erasure.png"
    plot_erasure(_erasure_table(), out, title="tiny")
    assert out.stat().st_size > 1000
    plot_erasure(pd.DataFrame(), tmp_path / "empty.png")
    assert (tmp_path / "empty.png").exists()
