"""What a config plans (speechneurons.study), names in paths, and the seed scheme."""

import pytest

from speechneurons.config import ConfigError, defaults
from speechneurons.model.schedule import checkpoint_name, checkpoint_step
from speechneurons.seeds import bootstrap_seeds, null_seeds
from speechneurons.study import Study, check_study, erasure_name, parse_erasure_name


def test_checkpoint_names_round_trip():
    assert checkpoint_name(250) == "step-250" and checkpoint_step("step-250") == 250
    assert checkpoint_step("final") is None and checkpoint_step("random") is None and checkpoint_step("step-") is None


def test_erasure_names_round_trip():
    assert erasure_name("gender", "F") == "gender-F" and parse_erasure_name("gender-F") == ("gender", "F")
    assert parse_erasure_name("pitch-low-mid") == ("pitch", "low-mid")
    with pytest.raises(ValueError, match="<property>-<group>"):
        parse_erasure_name("gender")


def test_seed_scheme():
    assert null_seeds(3, 2) == [3000, 3001] and bootstrap_seeds(3, 2) == [3500, 3501]


def test_variants_follow_the_library_lists():
    config = defaults()
    config["experiments"].update(strategies=["random"], sparsities=[0.5], keep_property=True, erasures=["gender-F"])
    study = Study(config)
    assert study.pruning_variants() == [
        ("random", 0.5),
        ("keep_property", None),
        ("keep_norm", None),
        ("keep_random", None),
    ]
    assert study.erasure_variants() == [("gender-F", "property"), ("gender-F", "random")]


def test_saved_checkpoints_name_every_iteration_end():
    study = Study(defaults())
    model = next(iter(study.models))
    saved = study.saved_checkpoints(model)
    assert saved[-1][0] == "final" and saved[-1][3]
    assert all(name.startswith("step-") for name, _, _, final in saved if not final)


def test_config_checks_run_before_the_dag():
    config = defaults()
    config["dissection"]["layers"] = [999]
    config["trajectories"]["runs"] = ["no-such-model"]
    with pytest.raises(ConfigError) as err:
        check_study(config)
    assert "dissection.layers [999]" in str(err.value) and "trajectories.runs" in str(err.value)
    check_study(defaults())
