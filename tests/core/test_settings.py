"""Each setting is declared once: settings objects are built from the schema's sections by
field name, with no default of their own."""

from __future__ import annotations

import dataclasses

import pytest

from speechneurons.config import defaults, section_params, settings_from
from speechneurons.dissection.settings import (
    BrowserSettings,
    DissectionSettings,
    ItemSettings,
    LLMSettings,
    PruningSettings,
)
from speechneurons.findings.sae_control import SaeControlSettings
from speechneurons.model.hubert import ModelSettings
from speechneurons.model.pretrain import TrainSettings
from speechneurons.model.schedule import IterationSettings
from speechneurons.pitch.f0 import PitchSettings
from speechneurons.probing.probes import ProbeSettings
from speechneurons.properties.statistic import PropertySettings
from speechneurons.saes.settings import SaeSettings  # --- saes
from speechneurons.trajectories.settings import PWCCASettings, ResetTopSettings, SampleSettings

#: settings class -> (config section, fields that are not config keys of the section; a dict
#: gives the values the test builds them with, else 0)
SETTINGS = {
    PitchSettings: ("pitch", set()),
    ModelSettings: ("pretrain", set()),
    TrainSettings: ("pretrain", set()),
    PropertySettings: ("properties", set()),
    ProbeSettings: ("probes", {"seed"}),
    SaeSettings: ("saes", {"architecture": "topk"}),  # --- saes
    SaeControlSettings: ("positive_controls.saes", set()),
    # --- dissection (a dotted section is a sub-section)
    ItemSettings: ("dissection", set()),
    DissectionSettings: ("dissection", set()),
    LLMSettings: ("dissection.llm", set()),
    PruningSettings: ("dissection.pruning", {"seed", "resamples", "level", "match_neighbours", "balance_ks"}),
    BrowserSettings: ("dissection.browser", set()),
    SampleSettings: ("trajectories", set()),
    PWCCASettings: ("trajectories.pwcca", set()),
    ResetTopSettings: ("trajectories.reset_top", set()),
}


def _section(name: str) -> dict:
    """A config section of the defaults; a dotted name is a nested section ('trajectories.pwcca')."""
    out = defaults()
    for key in name.split("."):
        out = out[key]
    return out


@pytest.mark.parametrize("cls", SETTINGS, ids=lambda c: c.__name__)
def test_fields_are_schema_keys_of_the_same_name_without_defaults(cls):
    section, extra = SETTINGS[cls]
    keys = set(_section(section))
    for f in dataclasses.fields(cls):
        assert f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING, f.name
        assert f.name in keys or f.name in extra, f"{cls.__name__}.{f.name} is not a key of section {section!r}"


@pytest.mark.parametrize("cls", SETTINGS, ids=lambda c: c.__name__)
def test_built_from_the_defaults(cls):
    section, extra = SETTINGS[cls]
    given = extra if isinstance(extra, dict) else dict.fromkeys(extra, 0)
    settings = settings_from(cls, _section(section), **given)
    assert dataclasses.is_dataclass(settings)


def test_iteration_items_are_schema_keys():
    item = defaults()["pretrain"]["iterations"][0]
    assert {f.name for f in dataclasses.fields(IterationSettings)} == set(item)


def test_section_params_keep_only_the_keys_a_job_reads():
    pitch = defaults()["pitch"]
    params = section_params(PitchSettings, pitch)
    assert set(params) == {f.name for f in dataclasses.fields(PitchSettings)}
    assert "n_bins" not in params and "binning" not in params


def test_missing_key_is_named():
    with pytest.raises(KeyError, match="sigma"):
        settings_from(PropertySettings, {"tau_fraction": 0.01, "min_count": 5, "splits": []})


def test_lists_become_tuples_and_given_values_win():
    s = settings_from(ProbeSettings, defaults()["probes"], seed=3)
    assert isinstance(s.tasks, tuple) and s.seed == 3
    hash(settings_from(PropertySettings, defaults()["properties"]))  # frozen and hashable
