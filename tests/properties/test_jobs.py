"""The properties job, the code the workflow runs: its neurons.json is the statistic of
compute_layer (the function the statistic's tests check), and it writes every output."""

import json
from types import SimpleNamespace

import numpy as np

from speechneurons.io import write_table
from speechneurons.properties import statistic as pr
from speechneurons.properties.jobs import layer
from tests.helpers.config import properties_layer_job
from tests.properties.test_statistic import PLANT, make_index, planted


def test_layer_job_writes_what_compute_layer_computes(tmp_path):
    index = make_index(frames_per_cell=6)
    rng = np.random.default_rng(0)
    speaker = index["gender"] + (np.arange(len(index)) // 6 % 3).astype(str)  # 3 F + 3 M speakers
    index = index.assign(
        utt_id=[f"{s}-u{i // 12}" for i, s in enumerate(speaker)],
        speaker=speaker,
        f0_hz=rng.uniform(80, 300, len(index)),
        split="train",
    )
    acts = planted(index, PLANT)
    np.save(tmp_path / "mid.npy", acts)
    write_table(index, tmp_path / "index_mid.parquet")
    params, out = properties_layer_job(tmp_path, chunk_rows=64)
    layer(SimpleNamespace(mid=str(tmp_path / "mid.npy"), index=str(tmp_path / "index_mid.parquet")), out, params)
    expected = pr.compute_layer(
        acts, index, 1, pr.PropertySettings(**params.settings), 3, 64, "cpu", "error", tmp_path / "mid.npy"
    )
    assert json.loads((tmp_path / "neurons.json").read_text()) == json.loads(json.dumps(expected.neurons_json()))
    assert all((tmp_path / path).exists() for path in out.values())
