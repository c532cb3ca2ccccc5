"""The settings dataclasses and the schema section agree."""

import dataclasses

import pytest

from speechneurons.config import SCHEMA_DIR, _load_yaml, settings_from
from speechneurons.saes import SAE_ARCHITECTURES, SaeSettings
from speechneurons.saes.registry import selector_class
from speechneurons.saes.settings import SUBSECTIONS, WORKFLOW_KEYS
from tests.helpers.config import default_section


def test_schema_keys_are_the_settings_fields():
    schema = _load_yaml(SCHEMA_DIR / "saes.schema.yaml")
    keys = set(schema["properties"])
    fields = {f.name for f in dataclasses.fields(SaeSettings)} - {"architecture"}
    assert keys == fields | set(WORKFLOW_KEYS)
    for name, cls in SUBSECTIONS.items():
        sub = set(schema["properties"][name]["properties"])
        assert sub == {f.name for f in dataclasses.fields(cls)}, name
    for cls in [SaeSettings, *SUBSECTIONS.values()]:
        for f in dataclasses.fields(cls):
            assert f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING, f.name
    assert set(schema["properties"]["architectures"]["items"]["enum"]) == set(SAE_ARCHITECTURES)
    assert {cls.settings_key for cls in SAE_ARCHITECTURES.values()} == set(SUBSECTIONS)


def test_defaults_build_every_architecture_and_round_trip():
    section = default_section("saes")
    for arch in SAE_ARCHITECTURES:
        s = settings_from(SaeSettings, section, architecture=arch, k=8)
        assert s.architecture == arch and s.k == 8
        assert isinstance(s.feature_choice, SUBSECTIONS["feature_choice"])
        assert SaeSettings.from_dict(s.to_dict()) == s
        hash(s)


def test_bad_values_are_rejected():
    section = default_section("saes")
    with pytest.raises(ValueError, match="architecture"):  # where the rule is built, not in the settings
        selector_class(settings_from(SaeSettings, section, architecture="jumprelu").architecture)
    with pytest.raises(ValueError, match="inference"):
        settings_from(SaeSettings, {**section, "mutual_choice": {"inference": "topk"}}, architecture="mutual_choice")
