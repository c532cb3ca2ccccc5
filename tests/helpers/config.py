"""Settings objects for tests, built from the schema defaults (the one place defaults live)."""

from __future__ import annotations

import functools
from typing import Any

from speechneurons.config import defaults, settings_from


@functools.cache
def _defaults() -> dict:
    return defaults()


def default_section(section: str, **overrides: Any) -> dict:
    """The schema defaults of a config section, with ``overrides``."""
    return {**_defaults()[section], **overrides}


def default_settings(cls, section: str, **overrides: Any):
    """``cls`` built from the schema defaults of ``section``, with ``overrides``."""
    return settings_from(cls, default_section(section, **overrides))


class Named(dict):
    """Named lists as Snakemake passes them to a job: ``out.x`` and ``out["x"]``."""

    __getattr__ = dict.__getitem__


def properties_layer_job(folder, chunk_rows: int | None = None):
    """(params, outputs) of the properties stage's ``layer`` job with reduced draws (3 null draws,
    2 resamples, one sensitivity count), its outputs in ``folder``; ``chunk_rows``: the
    default's when None."""
    from pathlib import Path
    from types import SimpleNamespace

    from speechneurons.config import section_params
    from speechneurons.properties.chance import ChanceSettings
    from speechneurons.properties.nulls import NullSettings
    from speechneurons.properties.statistic import PropertySettings

    config = defaults()
    props = {**config["properties"], "null_draws": 3, "count_resamples": 2, "sensitivity_min_counts": [1]}
    params = SimpleNamespace(
        settings=section_params(PropertySettings, props),
        chance=section_params(ChanceSettings, props),
        nulls=section_params(NullSettings, props),
        seed=0, n_pitch_bins=3, binning=config["pitch"]["binning"], on_bad_input="error", layer=1, device="cpu",
        chunk_rows=props["chunk_rows"] if chunk_rows is None else chunk_rows,
    )  # fmt: skip
    names = ["neurons", "P", "R", "counts", "skipped", "null", "replicates", "sensitivity", "silhouette", "binning"]
    suffix = {"neurons": "json", "P": "npz", "R": "parquet", "silhouette": "json"}
    return params, Named({name: str(Path(folder) / f"{name}.{suffix.get(name, 'tsv')}") for name in names})
