"""The dissection section: a valid schema with a type, description and default for every key,
settings built from it, and the checks the schema cannot express."""

import pytest
import yaml
from jsonschema import Draft202012Validator

from tests.helpers.dissection import SCHEMA, browser_settings, llm_settings, pruning_settings, section, settings


def test_schema_is_valid_and_its_defaults_validate():
    schema = yaml.safe_load(SCHEMA.read_text())
    Draft202012Validator.check_schema(schema)
    Draft202012Validator(schema).validate(section())


def test_every_key_has_type_description_default():
    def walk(schema, where):
        assert schema.get("additionalProperties") is False, where
        for key, sub in schema["properties"].items():
            assert {"type", "description", "default"} <= set(sub), f"{where}.{key}"
            if sub["type"] == "object":
                walk(sub, f"{where}.{key}")

    walk(yaml.safe_load(SCHEMA.read_text()), "dissection")


def test_settings_from_defaults():
    s = settings()
    assert (s.k, s.min_shared, s.max_bottom_shared, s.similarity, s.writer) == (5, 5, 0, "cos3", "template")
    assert s.splits == ("train",) and isinstance(s.concepts, tuple)
    assert llm_settings().base_url == ""
    assert (browser_settings().codec, browser_settings().sample_rate) == ("opus", 16000)
    assert pruning_settings().families == ("phone_type", "gender", "pitch")


def test_settings_refuse_inconsistent_values():
    with pytest.raises(ValueError, match="min_shared"):
        settings(k=3)
    with pytest.raises(ValueError, match="max_bottom_shared"):
        settings(max_bottom_shared=5)


def test_random_streams_of_one_seed_differ():
    from speechneurons.dissection.settings import STREAMS, rng

    perms = {name: tuple(rng(0, name).permutation(50)) for name in STREAMS}
    assert len(set(perms.values())) == len(STREAMS)
    assert tuple(rng(0, "ties").permutation(50)) == perms["ties"]


def test_each_job_reads_only_its_keys():
    """A rule passes section_params of its class: the browser's, the pruning's or the LLM's keys
    never rerun the layers, and the layers' keys never rerun the describer."""
    from speechneurons.config import section_params
    from speechneurons.dissection.settings import DissectionSettings, ItemSettings

    layer = section_params(DissectionSettings, section())
    assert not {"browser", "pruning", "llm", "n_bins", "layers"} & set(layer)
    assert set(section_params(ItemSettings, section())) == {"n_bins"}
