"""The input and params functions of the rules: what a job reads, given its wildcards.

Snakemake calls each with the job's wildcards ``w``; a factory (``per_layer("neurons.json")``)
returns such a function. They take every path from the :class:`~speechneurons.layout.Layout`
and every plan (layers, checkpoints, variants, runs) from the
:class:`~speechneurons.study.Study`, so the rules hold no logic; ``rules/common.smk`` builds one
:class:`Inputs` for the config and the rules use it as ``I``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from types import SimpleNamespace

from speechneurons.layout import Layout
from speechneurons.model.plant_concepts import CONCEPT_SIGNALS
from speechneurons.study import CTC_TWIN, Study, is_random


def one_of(names: Iterable[str]) -> str:
    """A wildcard pattern that matches exactly these names (nothing when there is none)."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


class Inputs:
    """The input functions of one config's rules (see the module docstring)."""

    def __init__(self, layout: Layout, study: Study):
        self.L, self.S, self.config = layout, study, study.config

    # ------------------------------------------------------------------ corpus
    def synth_parts(self, file):
        """Input function: one per-speaker output (Layout method ``file``) of every synthesized speaker."""
        return lambda w: [file(w.corpus, s) for s in self.S.synth_speakers(w.corpus)]

    def corpus_setting(self, *keys: str):
        """Params function: a setting of the job's corpus, e.g. corpus_setting("split", "seed")."""

        def get(w):
            value = self.S.corpora[w.corpus]
            for key in keys:
                value = value[key]
            return value

        return get

    # ------------------------------------------------------------------ align
    def align_shards(self, w) -> list[str]:
        """The shard folders one aligner's gather job merges (MFA runs as one shard, 'all')."""
        shards = ["all"] if w.aligner == "mfa" else range(self.config["align"]["shards"])
        return [self.L.align_shard(w.corpus, w.aligner, k) for k in shards]

    def reference_timings(self, w):
        """The synthesizer's TextGrids, for the 'reference' aligner (nothing for the others; that
        the corpus is synthesized is checked at start-up, :func:`speechneurons.study.check_study`)."""
        return self.L.reference(w.corpus) if w.aligner == "reference" else []

    # ------------------------------------------------------------------ model
    def pretrain_setting(self, key: str):
        """Params function: a pretraining setting of the job's model."""
        return lambda w: self.S.pretrain_of(w.model)[key]

    def iteration(self, w):
        """The settings of the job's pretraining iteration (1-based ``{iteration}``)."""
        return self.S.iteration(w.model, w.iteration)

    def iteration_files(self, file):
        """Input function: the file of Layout method ``file`` of every pretraining iteration of the job's model."""
        return lambda w: [file(w.corpus, w.model, i) for i in range(1, len(self.S.iterations_of(w.model)) + 1)]

    def previous_model(self, w):
        """The previous iteration's final model, when this iteration needs it (targets from a
        layer, or training resumed from it)."""
        if not self.S.needs_previous_model(w.model, w.iteration):
            return []
        return self.L.iteration_final(w.corpus, w.model, int(w.iteration) - 1)

    def heldout_checkpoints(self, w) -> list[tuple[str, int, int, str]]:
        """Every saved checkpoint as (name, iteration, global step, folder), iteration by
        iteration, each iteration's final model included."""
        return [
            (
                name,
                i,
                step,
                self.L.iteration_final(w.corpus, w.model, i)
                if final
                else self.L.checkpoint_dir(w.corpus, w.model, name),
            )
            for name, i, step, final in self.S.saved_checkpoints(w.model)
        ]

    def model_input(self, w, checkpoint: str):
        """File input of a job that loads a checkpoint of the model: the pretrained folder (its
        iteration's checkpoints folder for step-N); for a Hugging Face model, the model_download
        job's marker with model.download, else nothing. The checkpoints 'random' and 'random-<i>'
        (freshly initialised weights) read the final model's configuration only; 'ctc' (the CTC
        fine-tuned twin) is the folder the reset-top job of n = 0 saves."""
        if self.S.planted(w.model):
            return self.L.planted_model(w.corpus, w.model)
        if checkpoint == CTC_TWIN:
            return self.L.checkpoint_dir(w.corpus, w.model, CTC_TWIN)
        if not self.S.pretrained(w.model):
            return self.L.model_download(w.model) if self.S.downloaded(w.model) else []
        if checkpoint == "final" or is_random(checkpoint):
            return self.L.checkpoint_dir(w.corpus, w.model, "final")
        return self.L.checkpoints(w.corpus, w.model, self.S.checkpoint_iteration(w.model, checkpoint))

    def model_ref(self, w, checkpoint: str) -> str:
        """What the model registry loads for a checkpoint: a folder, or a Hugging Face id/folder."""
        if self.S.planted(w.model):
            return self.L.planted_model(w.corpus, w.model)
        if checkpoint == CTC_TWIN:
            return self.L.checkpoint_dir(w.corpus, w.model, CTC_TWIN)
        if not self.S.pretrained(w.model):
            return self.S.models[w.model]["path"]
        return self.L.checkpoint_dir(w.corpus, w.model, "final" if is_random(checkpoint) else checkpoint)

    def planted_base_model(self, w):
        """model_input of a planted model's base (its final model)."""
        return self.model_input(SimpleNamespace(corpus=w.corpus, model=self.S.planted_base(w.model)), "final")

    def planted_base_index(self, w) -> str:
        """The activation index (middle frames) of a planted model's base: the frames and labels
        the surgery estimates its directions on."""
        return self.L.activation_index("mid", w.corpus, self.S.planted_base(w.model), "final")

    def planted_base_items(self, w):
        """The dissection's phone items of a planted model's base (its final dump) when the model
        plants dissection concepts (speechneurons.model.plant_concepts), else nothing."""
        if self.S.models[w.model]["planted"].get("signal") not in CONCEPT_SIGNALS:
            return []
        return self.L.dissection_items("phone.parquet", w.corpus, self.S.planted_base(w.model), "final")

    def checkpoint_input(self, w):
        """model_input of the job's ``{checkpoint}``."""
        return self.model_input(w, w.checkpoint)

    def checkpoint_ref(self, w) -> str:
        """model_ref of the job's ``{checkpoint}``."""
        return self.model_ref(w, w.checkpoint)

    # ------------------------------------------------------------------ properties
    def per_layer(self, file, checkpoint: str | None = None):
        """Input function: the per-layer statistics file (Layout method ``file``) of every layer of the job's
        model, in layer order, of the job's ``{checkpoint}`` (or of ``checkpoint``)."""
        return lambda w: [
            file(layer, w.corpus, w.model, checkpoint or w.checkpoint) for layer in self.S.layers_of(w.model)
        ]

    # ------------------------------------------------------------------ experiments
    @property
    def experiments_checkpoint(self) -> str:
        """The checkpoint the experiments prune, erase and probe (experiments.checkpoint; the SAE,
        dissection and findings stages read it too)."""
        return self.config["experiments"]["checkpoint"]

    def experiments_model(self, w):
        """model_input of the checkpoint the experiments prune, erase and probe."""
        return self.model_input(w, self.experiments_checkpoint)

    def experiments_model_ref(self, w) -> str:
        """model_ref of the checkpoint the experiments prune, erase and probe."""
        return self.model_ref(w, self.experiments_checkpoint)

    def continued_pretraining_targets(self, w):
        """The targets of the last pretraining iteration, for continued pretraining of pruned models."""
        if self.config["experiments"]["continued_pretraining_steps"] == 0:
            return []
        return self.L.iteration_targets(w.corpus, w.model, len(self.S.iterations_of(w.model)))

    def pruning_files(self, file):
        """Input function: the file (Layout method ``file``) of every pruning variant, in
        Study.pruning_variants order."""
        return lambda w: [file(st, sp, w.corpus, w.model) for st, sp in self.S.pruning_variants()]

    def erasure_files(self, file):
        """Input function: the file (Layout method ``file``) of every erasure and control, in
        Study.erasure_variants order."""
        return lambda w: [file(er, kind, w.corpus, w.model) for er, kind in self.S.erasure_variants()]

    # ------------------------------------------------------------------ saes
    def sae_files(self, file, archs=None, layers: str = "layers"):
        """Input function: the file (Layout method ``file``) of the SAEs of every (layer, architecture) of the job's
        model and checkpoint, layer-major; ``layers``: 'layers' or 'splice_layers' of the plan."""
        archs = self.config["saes"]["architectures"] if archs is None else archs
        return lambda w: [
            file(layer, a, w.corpus, w.model, w.checkpoint)
            for layer in getattr(self.S.sae_plan(w.model), layers)
            for a in archs
        ]

    def sae_models(self, archs=None):
        """Input function: the SAEs at k of every (splice layer, architecture), layer-major."""
        archs = self.config["saes"]["architectures"] if archs is None else archs
        return lambda w: [
            self.L.sae_model(self.config["saes"]["k"], layer, a, w.corpus, w.model, w.checkpoint)
            for layer in self.S.sae_plan(w.model).splice_layers
            for a in archs
        ]

    def sae_masked_prediction(self, w):
        """The masked-prediction table of a pretrained model's SAEs (nothing for Hugging Face models)."""
        if not self.S.pretrained(w.model):
            return []
        return self.L.saes_masked_prediction(w.corpus, w.model, w.checkpoint)

    def checkpoint_targets(self, w) -> str:
        """The targets of the pretraining iteration that produced the job's checkpoint."""
        iteration = self.S.checkpoint_iteration(w.model, w.checkpoint)
        return self.L.iteration_targets(w.corpus, w.model, iteration)

    # ------------------------------------------------------------------ dissection
    def dissection_per_layer(self, file):
        """Input function: the file (Layout method ``file``) of every dissected layer of the job's model and
        checkpoint."""
        return lambda w: [file(layer, w.corpus, w.model, w.checkpoint) for layer in self.S.dissection_layers(w.model)]

    def per_dissected_layer(self, file, checkpoint: str):
        """Input function: the file (Layout method ``file``) of every dissected layer of the job's
        model at ``checkpoint`` (a job with no ``{checkpoint}`` wildcard, e.g. the findings)."""
        return lambda w: [file(layer, w.corpus, w.model, checkpoint) for layer in self.S.dissection_layers(w.model)]

    def twin_files(self, file):
        """Input function of the findings: the file (Layout method ``file``) of every dissected
        layer of the CTC fine-tuned twin when dissection.ctc_twin is on, else nothing (the
        findings then say the twin was not dissected)."""
        return lambda w: self.per_dissected_layer(file, CTC_TWIN)(w) if self.S.ctc_twin() else []

    # ------------------------------------------------------------------ trajectories
    def per_checkpoint_pwcca(self, file):
        """Input function: the per-checkpoint PWCCA file (Layout method ``file``) of every analysed checkpoint."""
        return lambda w: [file(w.corpus, w.model, c) for c in self.S.trajectory_checkpoints(w.model)]

    def trajectory_models(self, w) -> list[str]:
        """File inputs of the probe job: every analysed checkpoint of the model (none for a
        Hugging Face model)."""
        inputs = [self.model_input(w, c) for c in self.S.trajectory_checkpoints(w.model)]
        return sorted({path for path in inputs if path})

    def count_summaries(self, w) -> list[str]:
        """The properties summary of every count checkpoint of the job's model."""
        return [self.L.properties_summary(w.corpus, w.model, c) for c in self.S.count_checkpoints(w.model)]

    def run_files(self, file):
        """Input function: the trajectories file (Layout method ``file``) of every compared run of the job's corpus."""
        return lambda w: [file(w.corpus, r) for r in self.S.trajectory_runs()]
