"""The properties job, the code the workflow runs: its neurons.json is the statistic of
compute_layer (the function the statistic's tests check), and it writes every output."""

import json
from types import SimpleNamespace

import numpy as np

from speechneurons.config import defaults, section_params
from speechneurons.io import write_table
from speechneurons.properties import statistic as pr
from speechneurons.properties.chance import ChanceSettings
from speechneurons.properties.jobs import layer
from speechneurons.properties.nulls import NullSettings
from tests.properties.test_statistic import PLANT, make_index, planted


class Named(dict):
    """Named lists as Snakemake passes them: ``out.null`` and ``out["null"]``."""

    __getattr__ = dict.__getitem__


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
    config = defaults()
    config["properties"].update(null_draws=3, count_resamples=2, sensitivity_min_counts=[1])
    params = SimpleNamespace(
        settings=section_params(pr.PropertySettings, config["properties"]),
        chance=section_params(ChanceSettings, config["properties"]),
        nulls=section_params(NullSettings, config["properties"]),
        seed=0,
        n_pitch_bins=3,
        binning=config["pitch"]["binning"],
        on_bad_input="error",
        layer=1,
        device="cpu",
        chunk_rows=64,
    )
    names = ["neurons", "P", "R", "counts", "skipped", "null", "replicates", "sensitivity", "silhouette", "binning"]
    suffix = {"neurons": "json", "P": "npz", "R": "parquet", "silhouette": "json"}
    out = Named({name: str(tmp_path / f"{name}.{suffix.get(name, 'tsv')}") for name in names})
    layer(SimpleNamespace(mid=str(tmp_path / "mid.npy"), index=str(tmp_path / "index_mid.parquet")), out, params)
    expected = pr.compute_layer(
        acts, index, 1, pr.PropertySettings(**params.settings), 3, 64, "cpu", "error", tmp_path / "mid.npy"
    )
    assert json.loads((tmp_path / "neurons.json").read_text()) == json.loads(json.dumps(expected.neurons_json()))
    assert all((tmp_path / path).exists() for path in out.values())
