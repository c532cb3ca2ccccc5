"""What one config asks for: its corpora and its models, each with the settings that differ.

The primary corpus and model are the ``corpus`` and ``model`` sections; ``compare.corpora`` and
``compare.models`` add more. A pretrained model's settings are the ``pretrain`` section with
the model's own ``pretrain`` overrides on top (validated like the section itself). Every stage
runs for every (corpus, model) pair.

:class:`Study` answers what the rules ask of a config (a model's layers, its checkpoints, the
variants the experiments prune and erase, the runs the factor study compares), and
:func:`check_study` checks, at start-up before the DAG, what only the config and the models'
own configurations can tell (a dissected layer that is not dumped, a trajectories run that is
not a pretrained model, ...).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from speechneurons.corpus.librispeech import librispeech_listing
from speechneurons.corpus.voices import select_voices
from speechneurons.experiments.variants import ERASURE_KINDS, KEEP_STRATEGIES
from speechneurons.io import write_text_if_changed
from speechneurons.model.registry import is_hub_id, num_layers_of
from speechneurons.model.schedule import checkpoint_iteration, checkpoint_name, checkpoint_schedule, iteration_settings
from speechneurons.trajectories.runs import (
    analysed,
    checkpoint_steps,
    describe_schedule,
    distinct_checkpoints,
    factor_label,
    total_steps,
)

#: The checkpoint name of a model's CTC fine-tuned twin (dissection.ctc_twin): the reset-top
#: fine-tuning with n = 0 of trajectories.reset_top.checkpoint, dissected like any checkpoint.
CTC_TWIN = "ctc"


def corpora(config: Mapping) -> dict[str, dict]:
    """Corpus name -> its corpus section (the primary corpus first)."""
    entries = [config["corpus"], *config.get("compare", {}).get("corpora", [])]
    return {entry["name"]: entry for entry in entries}


def models(config: Mapping) -> dict[str, dict]:
    """Model name -> ``{name, source, path, pretrain}`` where ``pretrain`` is the full pretrain
    section of a pretrained model (the section with the model's overrides), ``{}`` otherwise."""
    out = {}
    for entry in [config["model"], *config.get("compare", {}).get("models", [])]:
        pretrain = merged(config["pretrain"], entry.get("pretrain", {})) if entry["source"] == "pretrain" else {}
        out[entry["name"]] = {
            "name": entry["name"],
            "source": entry["source"],
            "path": entry["path"],
            "pretrain": pretrain,
        }
        if entry["source"] == "planted":
            planted = dict(entry.get("planted") or {})
            out[entry["name"]]["planted"] = {**planted, "base": planted.get("base") or config["model"]["name"]}
    return out


def merged(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict:
    """``base`` with ``overrides`` on top, nested dicts merged key by key (lists replaced)."""
    out = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def duplicate_names(config: Mapping) -> list[str]:
    """Names given to more than one corpus, or to more than one model."""
    names = []
    for kind, entries in (
        ("corpus", [config["corpus"], *config.get("compare", {}).get("corpora", [])]),
        ("model", [config["model"], *config.get("compare", {}).get("models", [])]),
    ):
        seen = [e["name"] for e in entries]
        names += [f"{kind} {n!r}" for n in sorted({n for n in seen if seen.count(n) > 1})]
    return names


# --------------------------------------------------------------------------- names in paths


def erasure_name(prop: str, group: str) -> str:
    """The name of the erasure of one group's property neurons: ``<property>-<group>``."""
    return f"{prop}-{group}"


def parse_erasure_name(name: str) -> tuple[str, str]:
    """``<property>-<group>`` -> (property, group); the group may hold a dash itself."""
    prop, sep, group = name.partition("-")
    if not sep or not prop or not group:
        raise ValueError(f"erasure {name!r} is not <property>-<group> (e.g. gender-F, phone_type-vowel)")
    return prop, group


def is_random(checkpoint: str) -> bool:
    """Whether a checkpoint is a random-weights control: 'random' or 'random-<i>' (i >= 2)."""
    return checkpoint == "random" or (checkpoint.startswith("random-") and checkpoint[7:].isdigit())


def random_seed_offset(checkpoint: str) -> int:
    """What a random-weights checkpoint adds to the config's seed for its initialisation:
    'random' 0, 'random-<i>' i - 1."""
    if not is_random(checkpoint):
        raise ValueError(f"{checkpoint!r} is not a random-weights checkpoint ('random' or 'random-<i>')")
    return 0 if checkpoint == "random" else int(checkpoint[7:]) - 1


def random_checkpoints(n_seeds: int) -> list[str]:
    """The random-weights checkpoints of ``n_seeds`` initialisations: 'random', 'random-2', ..."""
    return ["random", *(f"random-{i}" for i in range(2, int(n_seeds) + 1))]


# --------------------------------------------------------------------------- the study of a config


class Study:
    """What the workflow plans for one validated config: corpora, models, their layers and
    checkpoints, and the variants and runs of the studies (no torch import; the Snakefile
    plans with it)."""

    def __init__(self, config: Mapping):
        self.config = config
        self.corpora = corpora(config)  # name -> corpus section; the primary corpus first
        self.models = models(config)  # name -> {name, source, path, pretrain}; the primary model first
        self.pairs = [(corpus, model) for corpus in self.corpora for model in self.models]

    # ------------------------------------------------------------------ corpora
    def corpora_of(self, source: str) -> list[str]:
        """Names of the corpora of a source ('synth' or 'librispeech')."""
        return [name for name, c in self.corpora.items() if c["source"] == source]

    def synth_speakers(self, corpus: str) -> list[str]:
        """Speaker ids of a synthesized corpus (its synth.speakers, or the whole voice table)."""

        return [v.speaker for v in select_voices(self.corpora[corpus]["synth"]["speakers"])]

    # ------------------------------------------------------------------ models
    def random_weights(self) -> list[str]:
        """The random-weights control checkpoints of the property counts
        (properties.random_weights_control, properties.random_weights_seeds); [] when off."""
        p = self.config["properties"]
        return random_checkpoints(p["random_weights_seeds"]) if p["random_weights_control"] else []

    def pretrained(self, model: str) -> bool:
        """Whether the workflow pretrains this model (else it is loaded from Hugging Face)."""
        return self.models[model]["source"] == "pretrain"

    def planted(self, model: str) -> bool:
        """Whether the model is a planted model (docs/positive-controls.md): the final model of its
        base with units written in by the model_plant job."""
        return self.models[model]["source"] == "planted"

    def planted_base(self, model: str) -> str:
        """The model a planted model is built from."""
        return self.models[model]["planted"]["base"]

    def pretrain_of(self, model: str) -> dict:
        """The pretrain section of a pretrained model (the section with the model's overrides)."""
        return self.models[model]["pretrain"]

    def iterations_of(self, model: str) -> list:
        """The pretraining iterations of a pretrained model, iteration 1 first."""

        return iteration_settings(self.pretrain_of(model))

    def schedule_of(self, model: str) -> list[list[tuple[int, int]]]:
        """Per iteration, the checkpoints it saves as (local step, global step)."""

        return checkpoint_schedule(self.iterations_of(model), self.pretrain_of(model)["checkpoint_steps"])

    def iteration(self, model: str, iteration: int):
        """The settings of pretraining iteration ``iteration`` (1-based) of a model."""
        its, i = self.iterations_of(model), int(iteration)
        if not 1 <= i <= len(its):
            raise ValueError(f"pretraining iteration {i} of model {model} is not in its iterations (1..{len(its)})")
        return its[i - 1]

    def needs_previous_model(self, model: str, iteration: int) -> bool:
        """Whether an iteration reads the previous iteration's final model (targets from one of
        its layers, or training resumed from it)."""
        it = self.iteration(model, iteration)
        return int(iteration) > 1 and not (it.targets == "mfcc" and it.init == "scratch")

    def saved_checkpoints(self, model: str) -> list[tuple[str, int, int, bool]]:
        """Every saved checkpoint of a pretrained model as (name, iteration, global step, is an
        iteration's final model), iteration by iteration, each iteration's final model included
        (``iteration-<i>-final`` but the last, ``final``)."""

        out, start, its = [], 0, self.iterations_of(model)
        for i, (it, saved) in enumerate(zip(its, self.schedule_of(model)), start=1):
            out += [(checkpoint_name(step), i, step, False) for _, step in saved]
            start += it.steps
            out.append(("final" if i == len(its) else f"iteration-{i}-final", i, start, True))
        return out

    def checkpoint_iteration(self, model: str, checkpoint: str) -> int:
        """The pretraining iteration that saves a checkpoint of a pretrained model."""

        return checkpoint_iteration(self.pretrain_of(model), checkpoint)

    def downloaded(self, model: str) -> bool:
        """Whether the model_download job fetches this model into the Hugging Face cache first
        (model.download: true and a Hugging Face id rather than a local folder)."""

        return bool(
            self.config["model"]["download"] and not self.pretrained(model) and is_hub_id(self.models[model]["path"])
        )

    def num_layers(self, model: str) -> int:
        """Transformer layers of a model: its pretrain num_layers, or the Hugging Face config's
        count, read without weights (offline; with model.download its config.json is fetched
        into the cache when it is not there)."""
        if self.pretrained(model):
            return int(self.pretrain_of(model)["num_layers"])
        if self.planted(model):
            return self.num_layers(self.planted_base(model))

        return num_layers_of(self.models[model]["path"], self.downloaded(model))

    def layers_of(self, model: str) -> list[int]:
        """Layers (1-based) of the activation dump: activations.layers, or every layer of the model."""
        if self.config["activations"]["layers"]:
            return sorted({int(layer) for layer in self.config["activations"]["layers"]})
        return list(range(1, self.num_layers(model) + 1))

    # ------------------------------------------------------------------ experiments
    def pruning_variants(self) -> list[tuple[str, float | None]]:
        """(strategy, sparsity) of every pruned variant: each strategy at each sparsity, then the
        keep strategies (no sparsity: None) when experiments.keep_property is on."""

        section = self.config["experiments"]
        return [(strategy, float(s)) for strategy in section["strategies"] for s in section["sparsities"]] + [
            (strategy, None) for strategy in KEEP_STRATEGIES if section["keep_property"]
        ]

    def erasure_variants(self) -> list[tuple[str, str]]:
        """(erasure, kind) of every erasure and its control (kinds: experiments.variants.ERASURE_KINDS)."""
        return [(erasure, kind) for erasure in self.config["experiments"]["erasures"] for kind in ERASURE_KINDS]

    # ------------------------------------------------------------------ saes and dissection
    def sae_plan(self, model: str):
        """The SAE layers, sweep and splice layers and budgets of a model (speechneurons.saes.plan)."""
        from speechneurons.saes.plan import sae_plan

        return sae_plan(self.config["saes"], self.layers_of(model), self.config["pitch"]["n_bins"])

    def dissection_layers(self, model: str) -> list[int]:
        """Layers the dissection covers: dissection.layers (each must be in the activation dump),
        or every layer of the dump."""
        dumped = self.layers_of(model)
        chosen = sorted({int(layer) for layer in self.config["dissection"]["layers"]})
        missing = [layer for layer in chosen if layer not in dumped]
        if missing:
            raise ValueError(
                f"dissection.layers {missing} are not in the activation dump of model {model} (layers {dumped}); "
                f"dissect dumped layers only, or add them to activations.layers"
            )
        return chosen or dumped

    # ------------------------------------------------------------------ trajectories
    def trajectory_available(self, model: str) -> list[str]:
        """The checkpoints of a model with distinct weights (a Hugging Face model: final only)."""

        return distinct_checkpoints(self.pretrain_of(model)) if self.pretrained(model) else ["final"]

    def trajectory_checkpoints(self, model: str) -> list[str]:
        """The checkpoints the layer-wise analysis measures (trajectories.checkpoints), in order."""

        requested = self.config["trajectories"]["checkpoints"]
        out = analysed(requested, self.trajectory_available(model))
        if not out:
            raise ValueError(
                f"trajectories.checkpoints {requested} names no checkpoint of model {model} "
                f"(it has {self.trajectory_available(model)})"
            )
        return out

    def count_checkpoints(self, model: str) -> list[str]:
        """The checkpoints whose property-neuron counts are gathered (trajectories.count_checkpoints,
        empty = the analysed ones), in order; 'random' (fresh weights) first."""

        wanted = self.config["trajectories"]["count_checkpoints"] or self.trajectory_checkpoints(model)
        return analysed(wanted, ["random", *self.trajectory_available(model)]) or ["final"]

    def steps_of(self, model: str) -> dict:
        """Checkpoint -> (iteration, global step) of a pretrained model; {} for a Hugging Face one."""

        return checkpoint_steps(self.pretrain_of(model)) if self.pretrained(model) else {}

    def reset_top_checkpoint(self, model: str) -> str:
        """The checkpoint the reset-top fine-tuning starts from (final for a Hugging Face model)."""
        return self.config["trajectories"]["reset_top"]["checkpoint"] if self.pretrained(model) else "final"

    def ctc_twin(self) -> bool:
        """Whether the CTC fine-tuned twin (checkpoint ``ctc``) is saved, dumped and dissected
        for the findings (dissection.ctc_twin)."""
        return bool(self.config["dissection"]["ctc_twin"])

    def trajectory_runs(self) -> list[str]:
        """The pretraining runs compared (trajectories.runs, empty = every pretrained model): each
        run is a model of the config (model or compare.models) with its pretrain overrides."""
        pretrained = [m for m in self.models if self.pretrained(m)]
        runs = self.config["trajectories"]["runs"] or pretrained
        bad = [r for r in runs if r not in self.models or not self.pretrained(r)]
        if bad:
            raise ValueError(
                f"trajectories.runs {bad}: a run is the name of a pretrained model of the config "
                f"(model.name or compare.models[*].name with source pretrain); pretrained models: {pretrained}"
            )
        return runs

    def run_descriptions(self, runs: Sequence[str]) -> list[dict]:
        """Per run: name, what it changes against the first run, its schedule and total steps."""

        base = self.pretrain_of(runs[0])
        return [
            {
                "run": r,
                "factor": factor_label(self.pretrain_of(r), base),
                "schedule": describe_schedule(self.pretrain_of(r)),
                "total_steps": total_steps(self.pretrain_of(r)),
            }
            for r in runs
        ]


def check_study(config: Mapping) -> None:
    """The checks of a config that need more than the schema (the models' layers, their saved
    checkpoints): run at start-up, before the DAG is built, so that a bad setting fails with
    one message naming every problem instead of halfway through planning. Raises ConfigError."""
    from speechneurons.config import ConfigError

    study, problems = Study(config), []
    if config["align"]["aligner"] == "reference":
        problems += [
            f"align.aligner 'reference' needs reference timings, which only a synthesized corpus has "
            f"(corpus {name} is {c['source']}); choose align.aligner: pocketsphinx or mfa"
            for name, c in study.corpora.items()
            if c["source"] != "synth"
        ]
    if config["experiments"]["continued_pretraining_steps"] > 0:
        problems += [
            f"experiments.continued_pretraining_steps > 0 needs pretrained models (the HuBERT targets of "
            f"the pretraining stage), but {m} is a Hugging Face model; set it to 0"
            for m in study.models
            if not study.pretrained(m)
        ]
    problems += [
        f"model {m}: planted.base {study.planted_base(m)!r} must be a pretrained model of the config "
        f"(model.name or compare.models[*].name with source pretrain)"
        for m in study.models
        if study.planted(m)
        and (study.planted_base(m) not in study.models or not study.pretrained(study.planted_base(m)))
    ]
    if problems:
        raise ConfigError("Invalid configuration:\n  - " + "\n  - ".join(problems))
    for m in study.models:
        study.layers_of(m)  # a model that cannot be read fails here with its own error
    checks = [study.trajectory_runs]
    checks += [
        partial(check, m) for m in study.models for check in (study.dissection_layers, study.trajectory_checkpoints)
    ]
    for check in checks:
        try:
            check()
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("Invalid configuration:\n  - " + "\n  - ".join(problems))


def write_listings(config: Mapping, layout) -> None:
    """Write the listing (path, size, mtime) of what the corpus stage reads from every local
    LibriSpeech folder of the config, rewriting it only when the folder changed: the listing is
    an input of the corpus rule, so replacing, adding or removing audio or transcripts reruns the
    corpus stage and what depends on it. Called at start-up (a dry run writes it too)."""

    for name, c in corpora(config).items():
        if c["source"] == "librispeech":
            section = c["librispeech"]
            text = librispeech_listing(section["root"], section["splits"], section["speakers"])
            write_text_if_changed(layout.corpus_listing(name), text)
