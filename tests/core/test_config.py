"""The config schema: defaults, and errors that name the key."""

from pathlib import Path

import pytest
import yaml

from speechneurons.config import ConfigError, defaults, load_config, read_config_file, validate_config

REPO = Path(__file__).resolve().parents[2]


def test_defaults_fill_every_section():
    cfg = defaults()
    for section in (
        "corpus",
        "frames",
        "align",
        "pitch",
        "model",
        "pretrain",
        "activations",
        "properties",
        "experiments",
        "probes",
        "bootstrap",
    ):
        assert isinstance(cfg[section], dict), section
    assert cfg["frames"]["conv_stride"] == [5, 2, 2, 2, 2, 2, 2]
    assert cfg["on_bad_input"] == "error"


def test_defaults_do_not_override_given_values():
    cfg = validate_config({"seed": 7, "corpus": {"name": "x"}})
    assert cfg["seed"] == 7
    assert cfg["corpus"]["name"] == "x"
    assert cfg["corpus"]["source"] == "synth"


def test_unknown_nested_key_is_named_with_a_suggestion():
    with pytest.raises(ConfigError) as err:
        validate_config({"corpus": {"sourc": "synth"}})
    msg = str(err.value)
    assert "corpus.sourc" in msg
    assert "did you mean 'source'" in msg


def test_unknown_top_level_key_is_named():
    with pytest.raises(ConfigError, match="unknown config key 'sed'"):
        validate_config({"sed": 1})


def test_wrong_type_names_the_key():
    with pytest.raises(ConfigError, match="config key 'seed'.*not of type 'integer'"):
        validate_config({"seed": "zero"})


def test_wrong_enum_names_the_key():
    with pytest.raises(ConfigError, match="config key 'on_bad_input'"):
        validate_config({"on_bad_input": "ignore"})


def test_every_error_is_reported_at_once():
    with pytest.raises(ConfigError) as err:
        validate_config({"seed": "x", "device": 3})
    assert "'seed'" in str(err.value) and "'device'" in str(err.value)


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


SHIPPED = ["config.yaml"] + sorted(str(p.relative_to(REPO)) for p in (REPO / "configs").glob("*.yaml"))


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_configs_are_valid(repo, name):
    base = yaml.safe_load((repo / "config.yaml").read_text())
    override = yaml.safe_load((repo / name).read_text()) or {}
    validate_config(_merge(base, override))


def test_every_schema_key_has_type_description_default(repo):
    """Each leaf key documents itself: a type (or enum), a description and a default."""
    from speechneurons.config import _load_yaml

    missing = []
    for file in sorted((repo / "schemas").glob("*.schema.yaml")):
        _walk(_load_yaml(file), file.name, missing)
    assert not missing, missing


def _walk(schema, where, missing):
    for key, sub in schema.get("properties", {}).items():
        if "$ref" in sub:
            continue
        here = f"{where}:{key}"
        if "description" not in sub:
            missing.append(here + " (description)")
        if "type" not in sub and "enum" not in sub:
            missing.append(here + " (type)")
        if "default" not in sub:
            missing.append(here + " (default)")
        if sub.get("type") == "object":
            _walk(sub, here, missing)


def _merge(base, override):
    out = dict(base)
    for k, v in override.items():
        out[k] = _merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def test_key_order_of_the_yaml_does_not_matter():
    """Rules pass config dicts as params, which Snakemake compares in order: the validated
    config orders every dict as the schema does."""
    a = validate_config({"pretrain": {"lr": 0.1, "batch_size": 2}, "corpus": {"source": "synth", "name": "x"}})
    b = validate_config({"corpus": {"name": "x", "source": "synth"}, "pretrain": {"batch_size": 2, "lr": 0.1}})
    assert list(a) == list(b) and list(a["pretrain"]) == list(b["pretrain"]) and list(a["corpus"]) == list(b["corpus"])
    assert list(a["pretrain"]["iterations"][0]) == list(b["pretrain"]["iterations"][0])


def test_two_models_with_one_name_fail_before_any_job():
    with pytest.raises(ConfigError, match="model 'tinyhubert' is used twice"):
        validate_config({"compare": {"models": [{"name": "tinyhubert"}]}})


def test_a_model_s_pretraining_overrides_are_validated_like_the_section():
    with pytest.raises(ConfigError, match=r"compare\.models\[0\]\.pretrain\.lr"):
        validate_config({"compare": {"models": [{"name": "fast", "pretrain": {"lr": "high"}}]}})
    with pytest.raises(ConfigError, match=r"iterations\[0\]"):
        validate_config({"pretrain": {"iterations": [{"steps": 5, "targets": "layer"}]}})
    cfg = validate_config({"compare": {"models": [{"name": "fast", "pretrain": {"lr": 0.01}}]}})
    from speechneurons.study import models

    assert models(cfg)["fast"]["pretrain"]["lr"] == 0.01 and models(cfg)["tinyhubert"]["pretrain"]["lr"] == 0.002


def test_yaml_key_given_twice_names_file_and_line(tmp_path):
    """A config file with the same key twice (PyYAML, and Snakemake, keep the second without a
    word: a LibriSpeech config once ran the synthesized corpus) is refused, naming file and line."""
    path = tmp_path / "twice.yaml"
    path.write_text("corpus:\n  source: librispeech\nseed: 1\ncorpus:\n  name: other\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert str(path) in msg and "line 4" in msg and "'corpus' appears twice" in msg and "lines 1 and 4" in msg
    nested = tmp_path / "nested.yaml"
    nested.write_text("corpus:\n  name: a\n  name: b\n")
    with pytest.raises(ConfigError, match=r"nested.yaml, line 3.*'name' appears twice"):
        read_config_file(nested)


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("corpus:\n  name: x\n  source: [librispeech\nalign:\n  shards: 1\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value) and "line 4" in str(err.value) and "(line 3)" in str(err.value)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just a string\n")
    with pytest.raises(ConfigError, match="not a mapping"):
        read_config_file(scalar)


def test_config_check_command(tmp_path, repo, capsys):
    """``python -m speechneurons.config`` (what ``make run`` calls first) checks files in order."""
    from speechneurons.config import main

    assert main([str(repo / "config.yaml"), str(repo / "configs" / "ci-tiny.yaml")]) == 0
    twice = tmp_path / "twice.yaml"
    twice.write_text("seed: 1\nseed: 2\n")
    assert main([str(repo / "config.yaml"), str(twice)]) == 1
    assert "twice.yaml, line 2" in capsys.readouterr().err
    typo = tmp_path / "typo.yaml"
    typo.write_text("sed: 1\n")
    assert main([str(typo)]) == 1
    assert "unknown config key 'sed'" in capsys.readouterr().err


def test_a_split_the_corpus_never_has_is_a_config_error():
    """properties.splits: [dev] ran with zero frames; the manifest's splits are train and test."""
    with pytest.raises(ConfigError, match=r"properties.splits.0.*'dev' is not one of \['train', 'test'\]"):
        validate_config({"properties": {"splits": ["dev"]}})
    with pytest.raises(ConfigError, match="pretrain.splits.0"):
        validate_config({"pretrain": {"splits": ["dev"]}})
    with pytest.raises(ConfigError, match="corpus.librispeech.splits"):
        validate_config({"corpus": {"librispeech": {"splits": []}}})
