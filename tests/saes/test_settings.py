"""The settings dataclasses and the schema section agree."""

import dataclasses

import pytest

from speechneurons.config import SCHEMA_DIR, _load_yaml
from speechneurons.saes import ARCHITECTURES, SaeSettings
from speechneurons.saes.settings import WORKFLOW_KEYS, default_section


def test_schema_keys_are_the_settings_fields():
    schema = _load_yaml(SCHEMA_DIR / "saes.schema.yaml")
    keys = set(schema["properties"])
    fields = {f.name for f in dataclasses.fields(SaeSettings)} - {"architecture"}
    assert keys == fields | set(WORKFLOW_KEYS)
    for name, cls in ARCHITECTURES.items():
        sub = set(schema["properties"][name]["properties"])
        assert sub == {f.name for f in dataclasses.fields(cls.Settings)}, name
    assert set(schema["properties"]["architectures"]["items"]["enum"]) == set(ARCHITECTURES)


def test_defaults_build_every_architecture_and_round_trip():
    section = default_section()
    for arch in section["architectures"]:
        s = SaeSettings.from_config(section, arch, k=8)
        assert s.architecture == arch and s.k == 8
        assert SaeSettings.from_dict(s.to_dict()) == s


def test_bad_values_are_rejected():
    section = default_section()
    with pytest.raises(ValueError, match="architecture"):
        SaeSettings.from_config(section, "jumprelu")
    with pytest.raises(ValueError, match="inference"):
        SaeSettings.from_config({**section, "mutual_choice": {"inference": "topk"}}, "mutual_choice")
