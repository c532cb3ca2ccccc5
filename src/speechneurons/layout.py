"""The results layout: every path the workflow reads or writes, defined once.

:class:`Layout` is built from the validated config. Each method returns one path; its keyword
arguments default to Snakemake wildcards (``"{corpus}"``, ``"{model}"``, ...), so a rule uses
``L.manifest()`` as an output pattern and a target list uses ``L.manifest(corpus="synth")``.
Rules, input functions, target lists and tests all take their paths from here; library
modules never choose a file name, they write the paths their caller gives them.

One method names one file (``L.best_layers()``, ``L.property_neurons()``); a figure is named
through its stage's ``<stage>_figure(name)`` method. The generic ``_<area>_file(name)`` helpers
are private: a file name is written here, once. What each file holds, stage by stage, is in
docs/outputs.md (the one description of the tree).

A checkpoint is ``final`` (the last pretraining iteration's final model, or a Hugging Face
model) or ``step-<N>``, N counted over all pretraining iterations one after the other; ``random``
is the final model's architecture with fresh weights and ``ctc`` its CTC fine-tuned twin (the
reset-top fine-tuning with n = 0, saved when dissection.ctc_twin is on).
"""

from __future__ import annotations

import os
from collections.abc import Mapping


def _fmt_sparsity(s: float) -> str:
    """A sparsity as it appears in paths: ``%g`` (0.25 -> '0.25')."""
    return format(float(s), "g")


class Layout:
    """Every output path of the workflow for one config (see the module docstring)."""

    def __init__(self, config: Mapping):
        from speechneurons.study import models

        self.config = config
        self.root = str(config["results_dir"])
        self.models = models(config)

    # ------------------------------------------------------------------ helpers
    def _path(self, *parts) -> str:
        return os.path.join(self.root, *map(str, parts))

    def log(self, *parts) -> str:
        """<results>/logs/<parts>.log: the log of one job."""
        return self._path("logs", *parts[:-1], f"{parts[-1]}.log")

    def benchmark(self, *parts) -> str:
        """<results>/benchmarks/<parts>.tsv: time and memory of one job (Snakemake's benchmark)."""
        return self._path("benchmarks", *parts[:-1], f"{parts[-1]}.tsv")

    # ------------------------------------------------------------------ corpus
    def corpus_dir(self, corpus="{corpus}") -> str:
        return self._path(corpus, "corpus")

    def manifest(self, corpus="{corpus}") -> str:
        """One row per usable utterance (see :mod:`speechneurons.corpus.manifest`)."""
        return f"{self.corpus_dir(corpus)}/manifest.tsv"

    def corpus_skipped(self, corpus="{corpus}") -> str:
        return f"{self.corpus_dir(corpus)}/skipped.tsv"

    def speakers(self, corpus="{corpus}") -> str:
        return f"{self.corpus_dir(corpus)}/speakers.tsv"

    def corpus_listing(self, corpus="{corpus}") -> str:
        """What the corpus stage reads from a local corpus folder (path, size, mtime): an input of
        the corpus rule, rewritten when the folder changes (see rules/common.smk)."""
        return f"{self.corpus_dir(corpus)}/listing.tsv"

    def corpus_figure(self, corpus="{corpus}") -> str:
        return f"{self.corpus_dir(corpus)}/minutes_per_speaker.png"

    def synth_audio(self, corpus="{corpus}", speaker="{speaker}") -> str:
        return f"{self.corpus_dir(corpus)}/audio/{speaker}"

    def _synth_part(self, name: str, corpus="{corpus}", speaker="{speaker}") -> str:
        """Per-speaker output of the synthesis job: ``utterances.tsv`` or ``reference`` (folder)."""
        return f"{self.corpus_dir(corpus)}/parts/{speaker}/{name}"

    def synth_part_table(self, corpus="{corpus}", speaker="{speaker}") -> str:
        """The speaker's utterances. (``utterances.tsv``)"""
        return self._synth_part("utterances.tsv", corpus, speaker)

    def synth_part_reference(self, corpus="{corpus}", speaker="{speaker}") -> str:
        """The speaker's reference TextGrids (folder). (``reference``)"""
        return self._synth_part("reference", corpus, speaker)

    def reference(self, corpus="{corpus}") -> str:
        """The synthesizer's own phone timings, one TextGrid per utterance (synth corpora)."""
        return f"{self.corpus_dir(corpus)}/reference"

    # ------------------------------------------------------------------ align and labels
    def align_dir(self, corpus="{corpus}", aligner="{aligner}") -> str:
        return self._path(corpus, "align", aligner)

    def align_shard(self, corpus="{corpus}", aligner="{aligner}", shard="{shard}") -> str:
        return f"{self.align_dir(corpus, aligner)}/shards/{shard}"

    def _mfa_work(self, name: str, corpus="{corpus}") -> str:
        """Folders and files of the MFA run: ``corpus``, ``output``, ``acoustic_model.zip``, ``tmp``."""
        return f"{self.align_dir(corpus, 'mfa')}/work/{name}"

    def mfa_corpus(self, corpus="{corpus}") -> str:
        """MFA's corpus folder (<speaker>/<utt>.wav links and .lab transcripts). (``corpus``)"""
        return self._mfa_work("corpus", corpus)

    def mfa_output(self, corpus="{corpus}") -> str:
        """MFA's output folder. (``output``)"""
        return self._mfa_work("output", corpus)

    def mfa_acoustic_model(self, corpus="{corpus}") -> str:
        """The acoustic model MFA trains (align.mfa.mode train). (``acoustic_model.zip``)"""
        return self._mfa_work("acoustic_model.zip", corpus)

    def mfa_tmp(self, corpus="{corpus}") -> str:
        """MFA's temporary folder. (``tmp``)"""
        return self._mfa_work("tmp", corpus)

    def textgrids(self, corpus="{corpus}", aligner="{aligner}") -> str:
        return f"{self.align_dir(corpus, aligner)}/textgrids"

    def _align_file(self, name: str, corpus="{corpus}", aligner="{aligner}") -> str:
        """``report.tsv``, ``failed.tsv``, ``quality.tsv`` or ``quality.png`` of an aligner."""
        return f"{self.align_dir(corpus, aligner)}/{name}"

    def align_report(self, corpus="{corpus}", aligner="{aligner}") -> str:
        """Per utterance: aligned or failed, attempts, seconds, reason. (``report.tsv``)"""
        return self._align_file("report.tsv", corpus, aligner)

    def align_failed(self, corpus="{corpus}", aligner="{aligner}") -> str:
        """The utterances the aligner could not align. (``failed.tsv``)"""
        return self._align_file("failed.tsv", corpus, aligner)

    def align_quality_table(self, corpus="{corpus}", aligner="{aligner}") -> str:
        """Alignment quality against the synthesizer's timings. (``quality.tsv``)"""
        return self._align_file("quality.tsv", corpus, aligner)

    def align_quality_figure(self, corpus="{corpus}", aligner="{aligner}") -> str:
        """Figure of the alignment quality. (``quality.png``)"""
        return self._align_file("quality.png", corpus, aligner)

    def _labels_file(self, name: str, corpus="{corpus}", aligner="{aligner}") -> str:
        """``frame_labels.parquet``, ``utterances.tsv`` or ``selection.parquet``."""
        return self._path(corpus, "labels", aligner, name)

    def frame_labels(self, corpus="{corpus}", aligner="{aligner}") -> str:
        """One row per model frame: utt_id, frame, phone, word, is_mid. (``frame_labels.parquet``)"""
        return self._labels_file("frame_labels.parquet", corpus, aligner)

    def label_utterances(self, corpus="{corpus}", aligner="{aligner}") -> str:
        """Per utterance: labelled or why not. (``utterances.tsv``)"""
        return self._labels_file("utterances.tsv", corpus, aligner)

    def frame_selection(self, corpus="{corpus}", aligner="{aligner}") -> str:
        """The frames the activation dump keeps (subsets mid and sample). (``selection.parquet``)"""
        return self._labels_file("selection.parquet", corpus, aligner)

    # ------------------------------------------------------------------ pitch
    def _pitch_file(self, name: str, corpus="{corpus}") -> str:
        """``f0.parquet``, ``skipped.tsv``, ``pitch_frames.parquet``, ``pitch_bins.json`` or
        ``f0_distributions.png``."""
        return self._path(corpus, "pitch", name)

    def f0(self, corpus="{corpus}") -> str:
        """F0 of every frame (Praat). (``f0.parquet``)"""
        return self._pitch_file("f0.parquet", corpus)

    def pitch_skipped(self, corpus="{corpus}") -> str:
        """Utterances the F0 extraction skipped. (``skipped.tsv``)"""
        return self._pitch_file("skipped.tsv", corpus)

    def pitch_frames(self, corpus="{corpus}") -> str:
        """Voiced frames with their pitch group. (``pitch_frames.parquet``)"""
        return self._pitch_file("pitch_frames.parquet", corpus)

    def pitch_bins(self, corpus="{corpus}") -> str:
        """The pitch groups' cut points and counts. (``pitch_bins.json``)"""
        return self._pitch_file("pitch_bins.json", corpus)

    def pitch_figure(self, corpus="{corpus}") -> str:
        """F0 distributions per gender and speaker with the cut points. (``f0_distributions.png``)"""
        return self._pitch_file("f0_distributions.png", corpus)

    # ------------------------------------------------------------------ model
    def model_dir(self, corpus="{corpus}", model="{model}") -> str:
        return self._path(corpus, "models", model)

    def _model_file(self, name: str, corpus="{corpus}", model="{model}") -> str:
        """A file about the whole pretraining: ``heldout.tsv``, ``heldout_curve.png``, ..."""
        return f"{self.model_dir(corpus, model)}/{name}"

    def model_download(self, model="{model}") -> str:
        """A Hugging Face model is in the local cache (fetched by the model_download job when
        model.download is true). (``<results>/hub/<model>/download.json``)"""
        return self._path("hub", model, "download.json")

    def heldout(self, corpus="{corpus}", model="{model}") -> str:
        """Held-out masked-prediction accuracy of every checkpoint. (``heldout.tsv``)"""
        return self._model_file("heldout.tsv", corpus, model)

    def heldout_curve(self, corpus="{corpus}", model="{model}") -> str:
        """Figure of the held-out accuracy against steps. (``heldout_curve.png``)"""
        return self._model_file("heldout_curve.png", corpus, model)

    def _iteration_file(self, name: str, corpus="{corpus}", model="{model}", iteration="{iteration}") -> str:
        """A file of one pretraining iteration: ``targets.parquet``, ``targets.json``,
        ``train_log.tsv`` or ``final`` (the iteration's last model)."""
        return f"{self.model_dir(corpus, model)}/iteration-{iteration}/{name}"

    def iteration_final(self, corpus="{corpus}", model="{model}", iteration="{iteration}") -> str:
        """The iteration's last model (folder). (``final``)"""
        return self._iteration_file("final", corpus, model, iteration)

    def iteration_targets(self, corpus="{corpus}", model="{model}", iteration="{iteration}") -> str:
        """The iteration's frame targets (one label per frame). (``targets.parquet``)"""
        return self._iteration_file("targets.parquet", corpus, model, iteration)

    def iteration_targets_info(self, corpus="{corpus}", model="{model}", iteration="{iteration}") -> str:
        """How the targets were made (k-means settings, counts). (``targets.json``)"""
        return self._iteration_file("targets.json", corpus, model, iteration)

    def iteration_centres(self, corpus="{corpus}", model="{model}", iteration="{iteration}") -> str:
        """The k-means cluster centres of the targets. (``kmeans_centres.npy``)"""
        return self._iteration_file("kmeans_centres.npy", corpus, model, iteration)

    def iteration_train_log(self, corpus="{corpus}", model="{model}", iteration="{iteration}") -> str:
        """The iteration's training log. (``train_log.tsv``)"""
        return self._iteration_file("train_log.tsv", corpus, model, iteration)

    def checkpoints(self, corpus="{corpus}", model="{model}", iteration="{iteration}") -> str:
        """The folder of an iteration's saved checkpoints, one ``step-<N>`` folder each."""
        return self._iteration_file("checkpoints", corpus, model, iteration)

    def checkpoint_dir(self, corpus="{corpus}", model="{model}", checkpoint="final") -> str:
        """A pretrained checkpoint folder (``save_pretrained`` + head): ``final`` is the last
        iteration's final model, ``step-<N>`` a checkpoint saved by the iteration that ran step N,
        ``ctc`` the CTC fine-tuned twin (:meth:`ctc_twin_dir`, also of a Hugging Face model)."""
        from speechneurons.model.schedule import checkpoint_iteration
        from speechneurons.study import CTC_TWIN

        if checkpoint == CTC_TWIN:
            return self.ctc_twin_dir(corpus, model)

        iteration = checkpoint_iteration(self.models[model]["pretrain"], checkpoint)
        if checkpoint == "final":
            return self._iteration_file("final", corpus, model, iteration)
        return f"{self.checkpoints(corpus, model, iteration)}/{checkpoint}"

    def pretrain_curve(self, corpus="{corpus}", model="{model}") -> str:
        return f"{self.model_dir(corpus, model)}/pretrain_curve.png"

    # ------------------------------------------------------------------ activations
    def planted_model(self, corpus="{corpus}", model="{model}") -> str:
        """A planted model (``save_pretrained`` folder with ``planted.json``, the units planted per
        layer and group; docs/positive-controls.md)."""
        return self._path(corpus, "models", model, "planted")

    def activations_dir(self, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        return self._path(corpus, "activations", model, checkpoint)

    def activation_array(
        self, subset="{subset}", layer="{layer}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """float16 ``[rows, D]`` FFN activations of one layer: subset ``mid`` or ``sample``."""
        return f"{self.activations_dir(corpus, model, checkpoint)}/layer-{layer}/{subset}.npy"

    def activation_index(self, subset="{subset}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """Row r describes row r of every layer's array of the subset."""
        return f"{self.activations_dir(corpus, model, checkpoint)}/index_{subset}.parquet"

    def _activations_file(self, name: str, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """``skipped.tsv`` or ``dump.json`` of a dump."""
        return f"{self.activations_dir(corpus, model, checkpoint)}/{name}"

    def dump_info(self, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """What the dump did: model, layers, rows, speed. (``dump.json``)"""
        return self._activations_file("dump.json", corpus, model, checkpoint)

    def activations_skipped(self, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """Utterances the dump skipped. (``skipped.tsv``)"""
        return self._activations_file("skipped.tsv", corpus, model, checkpoint)

    # ------------------------------------------------------------------ properties
    def properties_dir(self, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        return self._path(corpus, "properties", model, checkpoint)

    def _property_layer_file(
        self, name: str, layer="{layer}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """``neurons.json``, ``P.npz``, ``R.parquet``, ``counts.tsv`` or ``skipped.tsv`` of a layer."""
        return f"{self.properties_dir(corpus, model, checkpoint)}/layer-{layer}/{name}"

    def property_neurons(self, layer="{layer}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """The layer's property neurons per group (0-based indices). (``neurons.json``)"""
        return self._property_layer_file("neurons.json", layer, corpus, model, checkpoint)

    def property_P(self, layer="{layer}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """P(j | c, g): activation rates per phone and group. (``P.npz``)"""
        return self._property_layer_file("P.npz", layer, corpus, model, checkpoint)

    def property_R(self, layer="{layer}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """R_g per neuron and group. (``R.parquet``)"""
        return self._property_layer_file("R.parquet", layer, corpus, model, checkpoint)

    def property_counts(self, layer="{layer}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """Frames per phone and group. (``counts.tsv``)"""
        return self._property_layer_file("counts.tsv", layer, corpus, model, checkpoint)

    def property_skipped(self, layer="{layer}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """Frames the statistic skipped and why. (``skipped.tsv``)"""
        return self._property_layer_file("skipped.tsv", layer, corpus, model, checkpoint)

    def property_null(self, layer="{layer}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """Property-neuron counts under the permutation null. (``null.tsv``)"""
        return self._property_layer_file("null.tsv", layer, corpus, model, checkpoint)

    def property_replicates(
        self, layer="{layer}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """Bootstrap replicates of the counts. (``replicates.tsv``)"""
        return self._property_layer_file("replicates.tsv", layer, corpus, model, checkpoint)

    def property_sensitivity(
        self, layer="{layer}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """Counts against min_count. (``sensitivity.tsv``)"""
        return self._property_layer_file("sensitivity.tsv", layer, corpus, model, checkpoint)

    def property_silhouette(
        self, layer="{layer}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """Silhouette of P(. | c, g) by group. (``silhouette.json``)"""
        return self._property_layer_file("silhouette.json", layer, corpus, model, checkpoint)

    def property_pitch_binning(
        self, layer="{layer}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """Pitch neurons under the other pitch binning. (``pitch_binning.tsv``)"""
        return self._property_layer_file("pitch_binning.tsv", layer, corpus, model, checkpoint)

    def _properties_file(self, name: str, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """``summary.tsv`` or a figure under ``figures/``."""
        return f"{self.properties_dir(corpus, model, checkpoint)}/{name}"

    def properties_summary(self, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """Property-neuron counts of every layer. (``summary.tsv``)"""
        return self._properties_file("summary.tsv", corpus, model, checkpoint)

    def properties_figure(self, name: str, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """A figure: ``figures/<name>.png``."""
        return self._properties_file(f"figures/{name}.png", corpus, model, checkpoint)

    # ------------------------------------------------------------------ experiments
    def experiments_dir(self, corpus="{corpus}", model="{model}") -> str:
        return self._path(corpus, "experiments", model)

    def _experiments_file(self, name: str, corpus="{corpus}", model="{model}") -> str:
        """``pruning.tsv``, ``erasure.tsv``, ``probes/...`` or ``figures/...``."""
        return f"{self.experiments_dir(corpus, model)}/{name}"

    def pruning_table(self, corpus="{corpus}", model="{model}") -> str:
        """Unpruned against every pruning variant, with intervals. (``pruning.tsv``)"""
        return self._experiments_file("pruning.tsv", corpus, model)

    def erasure_table(self, corpus="{corpus}", model="{model}") -> str:
        """Every erasure against the unerased model and its control. (``erasure.tsv``)"""
        return self._experiments_file("erasure.tsv", corpus, model)

    def erasure_gender(self, corpus="{corpus}", model="{model}") -> str:
        """The gender erasure matrix. (``erasure_gender.tsv``)"""
        return self._experiments_file("erasure_gender.tsv", corpus, model)

    def erasure_phone_type(self, corpus="{corpus}", model="{model}") -> str:
        """The phone-type erasure matrix. (``erasure_phone_type.tsv``)"""
        return self._experiments_file("erasure_phone_type.tsv", corpus, model)

    def erasure_controls(self, corpus="{corpus}", model="{model}") -> str:
        """How well the random erasure controls match. (``erasure/random_match.tsv``)"""
        return self._experiments_file("erasure/random_match.tsv", corpus, model)

    def pruning_controls(self, corpus="{corpus}", model="{model}") -> str:
        """How well the matched random protection matches. (``prune/protect_random_match.tsv``)"""
        return self._experiments_file("prune/protect_random_match.tsv", corpus, model)

    def control_effects(self, corpus="{corpus}", model="{model}") -> str:
        """Pruning and erasure effects against their scored matched control draws. (``control_effects.tsv``)"""
        return self._experiments_file("control_effects.tsv", corpus, model)

    def control_balance(self, corpus="{corpus}", model="{model}") -> str:
        """How well the scored control draws match, and on which rate. (``control_balance.tsv``)"""
        return self._experiments_file("control_balance.tsv", corpus, model)

    def best_layers(self, corpus="{corpus}", model="{model}") -> str:
        """The probe layer per task, chosen on validation. (``probes/best_layers.json``)"""
        return self._experiments_file("probes/best_layers.json", corpus, model)

    def probe_frames(self, corpus="{corpus}", model="{model}") -> str:
        """The probed frames (the same for every variant). (``probes/frames.parquet``)"""
        return self._experiments_file("probes/frames.parquet", corpus, model)

    def probe_utterances(self, corpus="{corpus}", model="{model}") -> str:
        """The probed utterances (the same for every variant). (``probes/utterances.parquet``)"""
        return self._experiments_file("probes/utterances.parquet", corpus, model)

    def probe_skipped(self, corpus="{corpus}", model="{model}") -> str:
        """Utterances the feature extraction skipped. (``probes/skipped.tsv``)"""
        return self._experiments_file("probes/skipped.tsv", corpus, model)

    def unpruned_features(self, corpus="{corpus}", model="{model}") -> str:
        """Features of every layer of the unpruned model. (``probes/unpruned/features.npz``)"""
        return self._experiments_file("probes/unpruned/features.npz", corpus, model)

    def unpruned_layers(self, corpus="{corpus}", model="{model}") -> str:
        """Probe scores of every layer of the unpruned model. (``probes/unpruned/layers.tsv``)"""
        return self._experiments_file("probes/unpruned/layers.tsv", corpus, model)

    def unpruned_losses(self, corpus="{corpus}", model="{model}") -> str:
        """Per-utterance probe losses of the unpruned model. (``probes/unpruned/losses.parquet``)"""
        return self._experiments_file("probes/unpruned/losses.parquet", corpus, model)

    def experiments_figure(self, name: str, corpus="{corpus}", model="{model}") -> str:
        """A figure: ``figures/<name>.png``."""
        return self._experiments_file(f"figures/{name}.png", corpus, model)

    def _pruned(
        self, name: str, strategy="{strategy}", sparsity="{sparsity}", corpus="{corpus}", model="{model}"
    ) -> str:
        """A file of one pruned variant: ``model`` (folder), ``plan.tsv``, ``pruned_neurons.json``,
        ``features.npz`` or ``losses.parquet``. The keep strategies (sparsity None) have no
        sparsity level: ``prune/<strategy>/<name>``."""
        if sparsity is None:
            return f"{self.experiments_dir(corpus, model)}/prune/{strategy}/{name}"
        if sparsity != "{sparsity}":
            sparsity = _fmt_sparsity(sparsity)
        return f"{self.experiments_dir(corpus, model)}/prune/{strategy}/sparsity-{sparsity}/{name}"

    def pruned_model(self, strategy="{strategy}", sparsity="{sparsity}", corpus="{corpus}", model="{model}") -> str:
        """The structurally pruned model (folder). (``model``)"""
        return self._pruned("model", strategy, sparsity, corpus, model)

    def pruned_plan(self, strategy="{strategy}", sparsity="{sparsity}", corpus="{corpus}", model="{model}") -> str:
        """Per layer: width, pruned, protected. (``plan.tsv``)"""
        return self._pruned("plan.tsv", strategy, sparsity, corpus, model)

    def pruned_neurons(self, strategy="{strategy}", sparsity="{sparsity}", corpus="{corpus}", model="{model}") -> str:
        """The neurons the variant prunes. (``pruned_neurons.json``)"""
        return self._pruned("pruned_neurons.json", strategy, sparsity, corpus, model)

    def pruned_features(self, strategy="{strategy}", sparsity="{sparsity}", corpus="{corpus}", model="{model}") -> str:
        """The variant's features at the probe layers. (``features.npz``)"""
        return self._pruned("features.npz", strategy, sparsity, corpus, model)

    def pruned_losses(self, strategy="{strategy}", sparsity="{sparsity}", corpus="{corpus}", model="{model}") -> str:
        """The variant's per-utterance probe losses. (``losses.parquet``)"""
        return self._pruned("losses.parquet", strategy, sparsity, corpus, model)

    def _erased(self, name: str, erasure="{erasure}", kind="{kind}", corpus="{corpus}", model="{model}") -> str:
        """A file of one erasure or its control: ``losses.parquet`` or ``erased_neurons.json``."""
        return f"{self.experiments_dir(corpus, model)}/erasure/{erasure}/{kind}/{name}"

    def erased_neurons(self, erasure="{erasure}", kind="{kind}", corpus="{corpus}", model="{model}") -> str:
        """The neurons the erasure (or its control) silences. (``erased_neurons.json``)"""
        return self._erased("erased_neurons.json", erasure, kind, corpus, model)

    def erased_features(self, erasure="{erasure}", kind="{kind}", corpus="{corpus}", model="{model}") -> str:
        """The variant's features at the probe layers. (``features.npz``)"""
        return self._erased("features.npz", erasure, kind, corpus, model)

    def erased_losses(self, erasure="{erasure}", kind="{kind}", corpus="{corpus}", model="{model}") -> str:
        """The variant's per-utterance probe losses. (``losses.parquet``)"""
        return self._erased("losses.parquet", erasure, kind, corpus, model)

    # ------------------------------------------------------------------ comparison
    def _comparison_file(self, name: str) -> str:
        """A table or figure over every (corpus, model) pair of the run."""
        return self._path("comparison", name)

    def comparison_summary(
        self,
    ) -> str:
        """The properties summaries of every pair, stacked. (``summary.tsv``)"""
        return self._comparison_file(
            "summary.tsv",
        )

    def comparison_pruning(
        self,
    ) -> str:
        """The pruning tables of every pair, stacked. (``pruning.tsv``)"""
        return self._comparison_file(
            "pruning.tsv",
        )

    def comparison_erasure(
        self,
    ) -> str:
        """The erasure tables of every pair, stacked. (``erasure.tsv``)"""
        return self._comparison_file(
            "erasure.tsv",
        )

    def comparison_findings(
        self,
    ) -> str:
        """The findings of every pair, stacked. (``findings.tsv``)"""
        return self._comparison_file(
            "findings.tsv",
        )

    def comparison_figure(
        self,
    ) -> str:
        """Property-neuron share against relative depth, every model. (``property_share.png``)"""
        return self._comparison_file(
            "property_share.png",
        )

    # ------------------------------------------------------------------ findings
    def _findings_file(self, name: str, corpus="{corpus}", model="{model}") -> str:
        """``findings.tsv`` or ``findings.html``: the papers' claims checked on this run."""
        return self._path(corpus, "findings", model, name)

    def findings_table(self, corpus="{corpus}", model="{model}") -> str:
        """The papers' claims checked on this run. (``findings.tsv``)"""
        return self._findings_file("findings.tsv", corpus, model)

    def findings_page(self, corpus="{corpus}", model="{model}") -> str:
        """The findings as a page, grouped by study. (``findings.html``)"""
        return self._findings_file("findings.html", corpus, model)

    # ------------------------------------------------------------------ positive controls
    def _positive_controls_file(self, name: str) -> str:
        """A file of the positive controls (docs/positive-controls.md): one per results folder,
        read by the findings page of every run in it."""
        return self._path("positive-controls", name)

    def power_table(self) -> str:
        """Power of the property-neuron claims against planted effect and corpus size. (``power.tsv``)"""
        return self._positive_controls_file("power.tsv")

    def power_figure(self) -> str:
        """The power table as a figure, one panel per claim. (``power.png``)"""
        return self._positive_controls_file("power.png")

    def sae_control_table(self) -> str:
        """The SAE claims' verdicts on a planted sparse dictionary and on its null twin. (``saes.tsv``)"""
        return self._positive_controls_file("saes.tsv")

    def sae_control_saes(self) -> str:
        """Per SAE of the SAE control: recovery of the planted atoms, FVU, mean L0, dead share.
        (``saes_recovery.tsv``)"""
        return self._positive_controls_file("saes_recovery.tsv")

    def sae_control_figure(self) -> str:
        """The SAE control's frequencies against rank and recovery as a figure. (``saes.png``)"""
        return self._positive_controls_file("saes.png")

    # ------------------------------------------------------------------ saes
    def saes_dir(self, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        return self._path(corpus, "saes", model, checkpoint)

    def _saes_file(self, name: str, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """A file about all SAEs of a checkpoint: ``evaluation.tsv``, ``claims.tsv``, ``units.tsv``,
        ``features_vs_neurons.tsv``, ``splice.tsv``, ``erasure.tsv``, ``masked_prediction.tsv``,
        ``probes/...`` or ``figures/...``."""
        return f"{self.saes_dir(corpus, model, checkpoint)}/{name}"

    def saes_evaluation(self, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """Every SAE with intervals. (``evaluation.tsv``)"""
        return self._saes_file("evaluation.tsv", corpus, model, checkpoint)

    def saes_claims(self, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """The SAE paper's two claims. (``claims.tsv``)"""
        return self._saes_file("claims.tsv", corpus, model, checkpoint)

    def saes_units(self, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """Property latents and neurons with their chance levels. (``units.tsv``)"""
        return self._saes_file("units.tsv", corpus, model, checkpoint)

    def saes_features_vs_neurons(self, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """Latents against neurons as carriers of properties. (``features_vs_neurons.tsv``)"""
        return self._saes_file("features_vs_neurons.tsv", corpus, model, checkpoint)

    def saes_l0_by_frame(self, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """Mean L0 of the adaptive SAEs by frame class and distance to a phone boundary. (``l0_by_frame.tsv``)"""
        return self._saes_file("l0_by_frame.tsv", corpus, model, checkpoint)

    def saes_splice(self, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """Probe scores with each SAE spliced in. (``splice.tsv``)"""
        return self._saes_file("splice.tsv", corpus, model, checkpoint)

    def saes_erasure(self, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """Property latents and neurons erased against their controls. (``erasure.tsv``)"""
        return self._saes_file("erasure.tsv", corpus, model, checkpoint)

    def saes_masked_prediction(self, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """Masked prediction with each SAE spliced in. (``masked_prediction.tsv``)"""
        return self._saes_file("masked_prediction.tsv", corpus, model, checkpoint)

    def saes_probe_losses(self, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """Per-utterance probe losses of every SAE variant. (``probes/losses.parquet``)"""
        return self._saes_file("probes/losses.parquet", corpus, model, checkpoint)

    def saes_probe_variants(self, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """The SAE variants and what each erases. (``probes/variants.json``)"""
        return self._saes_file("probes/variants.json", corpus, model, checkpoint)

    def saes_figure(self, name: str, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """A figure: ``figures/<name>.png``."""
        return self._saes_file(f"figures/{name}.png", corpus, model, checkpoint)

    def _sae_file(
        self, name: str, layer="{layer}", arch="{arch}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """A file of the SAEs of one layer and architecture: ``evaluation.tsv``, ``evaluation.npz``,
        ``train_log.tsv``, ``sweep`` (folder of the k sweep's SAEs), and the property statistic on
        the latents: ``latents.json`` (as neurons.json), ``P.npz``, ``R.parquet``, ``counts.tsv``,
        ``skipped.tsv``, ``null.tsv``."""
        return f"{self.saes_dir(corpus, model, checkpoint)}/layer-{layer}/{arch}/{name}"

    def sae_evaluation(
        self, layer="{layer}", arch="{arch}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """Evaluation of every budget of the SAE. (``evaluation.tsv``)"""
        return self._sae_file("evaluation.tsv", layer, arch, corpus, model, checkpoint)

    def sae_sums(
        self, layer="{layer}", arch="{arch}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """The evaluation's per-row sums. (``evaluation.npz``)"""
        return self._sae_file("evaluation.npz", layer, arch, corpus, model, checkpoint)

    def sae_train_log(
        self, layer="{layer}", arch="{arch}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """The SAEs' training log. (``train_log.tsv``)"""
        return self._sae_file("train_log.tsv", layer, arch, corpus, model, checkpoint)

    def sae_sweep(
        self, layer="{layer}", arch="{arch}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """Folder of the k sweep's SAEs. (``sweep``)"""
        return self._sae_file("sweep", layer, arch, corpus, model, checkpoint)

    def sae_latents(
        self, layer="{layer}", arch="{arch}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """Property latents (as neurons.json). (``latents.json``)"""
        return self._sae_file("latents.json", layer, arch, corpus, model, checkpoint)

    def sae_P(
        self, layer="{layer}", arch="{arch}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """P(j | c, g) of the latents. (``P.npz``)"""
        return self._sae_file("P.npz", layer, arch, corpus, model, checkpoint)

    def sae_R(
        self, layer="{layer}", arch="{arch}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """R_g of the latents. (``R.parquet``)"""
        return self._sae_file("R.parquet", layer, arch, corpus, model, checkpoint)

    def sae_counts(
        self, layer="{layer}", arch="{arch}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """Frames per phone and group. (``counts.tsv``)"""
        return self._sae_file("counts.tsv", layer, arch, corpus, model, checkpoint)

    def sae_skipped(
        self, layer="{layer}", arch="{arch}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """Frames the statistic skipped. (``skipped.tsv``)"""
        return self._sae_file("skipped.tsv", layer, arch, corpus, model, checkpoint)

    def sae_null(
        self, layer="{layer}", arch="{arch}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """Property-latent counts under the permutation null. (``null.tsv``)"""
        return self._sae_file("null.tsv", layer, arch, corpus, model, checkpoint)

    def sae_model(
        self, k, layer="{layer}", arch="{arch}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """The SAE (folder: ``sae.safetensors``, ``settings.json``) at the config's k."""
        return self._sae_file(f"k-{k}", layer, arch, corpus, model, checkpoint)

    def sae_sweep_model(
        self, k, layer="{layer}", arch="{arch}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """An SAE of the k sweep (folder), inside ``sweep``."""
        return f"{self._sae_file('sweep', layer, arch, corpus, model, checkpoint)}/k-{k}"

    # ------------------------------------------------------------------ dissection
    def dissection_dir(self, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        return self._path(corpus, "dissection", model, checkpoint)

    def dissection_items(self, name: str, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """``phone.parquet``, ``phone.json``, ``utterance.parquet`` or ``utterance.json``: the
        items of a dump with their attributes and captions, and the attributes' bin edges."""
        return f"{self.dissection_dir(corpus, model, checkpoint)}/items/{name}"

    def _dissection_layer_file(
        self, name: str, layer="{layer}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """``neurons.tsv``, ``shared.tsv``, ``similarity.npz``, ``agreement.tsv`` or ``summary.json``."""
        return f"{self.dissection_dir(corpus, model, checkpoint)}/layer-{layer}/{name}"

    def dissection_neurons(self, layer="{layer}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """Each neuron's top concepts and description. (``neurons.tsv``)"""
        return self._dissection_layer_file("neurons.tsv", layer, corpus, model, checkpoint)

    def dissection_shared(self, layer="{layer}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """What each neuron's top items share. (``shared.tsv``)"""
        return self._dissection_layer_file("shared.tsv", layer, corpus, model, checkpoint)

    def dissection_similarity(
        self, layer="{layer}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """Similarity of the neurons' top items. (``similarity.npz``)"""
        return self._dissection_layer_file("similarity.npz", layer, corpus, model, checkpoint)

    def dissection_layer_agreement(
        self, layer="{layer}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """Agreement with the property neurons. (``agreement.tsv``)"""
        return self._dissection_layer_file("agreement.tsv", layer, corpus, model, checkpoint)

    def dissection_layer_summary(
        self, layer="{layer}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """The layer's uninterpretable share and chance. (``summary.json``)"""
        return self._dissection_layer_file("summary.json", layer, corpus, model, checkpoint)

    def _dissection_file(self, name: str, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """``summary.tsv``, ``agreement.tsv``, ``pruning.tsv``, ``pruning_sets.json``, a figure
        under ``figures/`` or ``browser.html`` (the neuron browser, one self-contained page)."""
        return f"{self.dissection_dir(corpus, model, checkpoint)}/{name}"

    def dissection_summary(self, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """Uninterpretable share per layer and kind. (``summary.tsv``)"""
        return self._dissection_file("summary.tsv", corpus, model, checkpoint)

    def dissection_agreement(self, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """Agreement with property neurons of every layer. (``agreement.tsv``)"""
        return self._dissection_file("agreement.tsv", corpus, model, checkpoint)

    def dissection_pruning(self, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """Concept-specific pruning against its control. (``pruning.tsv``)"""
        return self._dissection_file("pruning.tsv", corpus, model, checkpoint)

    def dissection_pruning_sets(self, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """The neurons each concept pruning silences. (``pruning_sets.json``)"""
        return self._dissection_file("pruning_sets.json", corpus, model, checkpoint)

    def dissection_browser(self, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """The neuron browser (one self-contained page). (``browser.html``)"""
        return self._dissection_file("browser.html", corpus, model, checkpoint)

    def dissection_figure(self, name: str, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """A figure: ``figures/<name>.png``."""
        return self._dissection_file(f"figures/{name}.png", corpus, model, checkpoint)

    def dissection_llm_cache(self) -> str:
        """The LLM writer's answers, one file per question; no job's output, so never deleted by a rerun."""
        return self._path("dissection-llm-cache")

    # ------------------------------------------------------------------ trajectories
    def trajectories_dir(self, corpus="{corpus}", model="{model}") -> str:
        return self._path(corpus, "trajectories", model)

    def _trajectories_file(self, name: str, corpus="{corpus}", model="{model}") -> str:
        """A file of the layer-wise analysis of a model: ``pwcca.tsv``, ``pwcca_trials.tsv``,
        ``findings.tsv``, ``probes.tsv``, ``probe_losses.parquet``, ``counts.tsv``,
        ``reset_top.tsv``, ``reset_top_rates.tsv``, ``reset_top_utterances.parquet`` or
        ``figures/...``."""
        return f"{self.trajectories_dir(corpus, model)}/{name}"

    def trajectories_pwcca(self, corpus="{corpus}", model="{model}") -> str:
        """PWCCA of every analysed checkpoint by step. (``pwcca.tsv``)"""
        return self._trajectories_file("pwcca.tsv", corpus, model)

    def trajectories_pwcca_trials(self, corpus="{corpus}", model="{model}") -> str:
        """PWCCA trials of every checkpoint. (``pwcca_trials.tsv``)"""
        return self._trajectories_file("pwcca_trials.tsv", corpus, model)

    def trajectories_findings(self, corpus="{corpus}", model="{model}") -> str:
        """Peak phone layer and top-layer rise per checkpoint. (``findings.tsv``)"""
        return self._trajectories_file("findings.tsv", corpus, model)

    def trajectories_probes(self, corpus="{corpus}", model="{model}") -> str:
        """Probe errors per checkpoint and layer, with intervals. (``probes.tsv``)"""
        return self._trajectories_file("probes.tsv", corpus, model)

    def trajectories_probe_losses(self, corpus="{corpus}", model="{model}") -> str:
        """Per-utterance probe losses. (``probe_losses.parquet``)"""
        return self._trajectories_file("probe_losses.parquet", corpus, model)

    def trajectories_counts(self, corpus="{corpus}", model="{model}") -> str:
        """Property-neuron counts per checkpoint and layer. (``counts.tsv``)"""
        return self._trajectories_file("counts.tsv", corpus, model)

    def trajectories_reset_top(self, corpus="{corpus}", model="{model}") -> str:
        """PER against n reset layers, with intervals. (``reset_top.tsv``)"""
        return self._trajectories_file("reset_top.tsv", corpus, model)

    def trajectories_reset_top_rates(self, corpus="{corpus}", model="{model}") -> str:
        """Every learning rate's dev and test PER. (``reset_top_rates.tsv``)"""
        return self._trajectories_file("reset_top_rates.tsv", corpus, model)

    def trajectories_reset_top_utterances(self, corpus="{corpus}", model="{model}") -> str:
        """Per-utterance edit distances. (``reset_top_utterances.parquet``)"""
        return self._trajectories_file("reset_top_utterances.parquet", corpus, model)

    def trajectories_figure(self, name: str, corpus="{corpus}", model="{model}") -> str:
        """A figure: ``figures/<name>.png``."""
        return self._trajectories_file(f"figures/{name}.png", corpus, model)

    def _trajectories_checkpoint_file(
        self, name: str, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """The PWCCA of one checkpoint: ``pwcca.tsv`` or ``trials.tsv``."""
        return f"{self.trajectories_dir(corpus, model)}/checkpoints/{checkpoint}/{name}"

    def checkpoint_pwcca(self, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """PWCCA of every layer of one checkpoint. (``pwcca.tsv``)"""
        return self._trajectories_checkpoint_file("pwcca.tsv", corpus, model, checkpoint)

    def checkpoint_pwcca_trials(self, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """The PWCCA trials of one checkpoint. (``trials.tsv``)"""
        return self._trajectories_checkpoint_file("trials.tsv", corpus, model, checkpoint)

    def _reset_top_file(self, name: str, reset="{reset}", corpus="{corpus}", model="{model}") -> str:
        """One reset-top fine-tuning (top ``reset`` layers re-initialised): ``per_utterance.parquet``,
        ``train_log.tsv`` or ``rates.tsv``."""
        return f"{self.trajectories_dir(corpus, model)}/reset_top/n-{reset}/{name}"

    def reset_top_per_utterance(self, reset="{reset}", corpus="{corpus}", model="{model}") -> str:
        """Per-utterance edit distances on test. (``per_utterance.parquet``)"""
        return self._reset_top_file("per_utterance.parquet", reset, corpus, model)

    def reset_top_train_log(self, reset="{reset}", corpus="{corpus}", model="{model}") -> str:
        """The fine-tuning log of every learning rate. (``train_log.tsv``)"""
        return self._reset_top_file("train_log.tsv", reset, corpus, model)

    def reset_top_rates(self, reset="{reset}", corpus="{corpus}", model="{model}") -> str:
        """Dev and test PER of every learning rate. (``rates.tsv``)"""
        return self._reset_top_file("rates.tsv", reset, corpus, model)

    def ctc_twin_dir(self, corpus="{corpus}", model="{model}") -> str:
        """The CTC fine-tuned twin (checkpoint ``ctc``): the reset-top fine-tuning with n = 0 at
        its chosen rate, a ``save_pretrained`` folder with ``preprocessor_config.json``, the CTC
        head and ``ctc.json``. (``reset_top/n-0/model``)"""
        return self._reset_top_file("model", 0, corpus, model)

    def _factors_file(self, name: str, corpus="{corpus}") -> str:
        """The comparison of the pretraining runs of a corpus: ``runs.tsv``, ``equal_steps.tsv``
        or ``figures/...``."""
        return self._path(corpus, "factors", name)

    def factors_runs(self, corpus="{corpus}") -> str:
        """One row per pretraining run at its final checkpoint. (``runs.tsv``)"""
        return self._factors_file("runs.tsv", corpus)

    def factors_equal_steps(self, corpus="{corpus}") -> str:
        """Every run's measures at the steps all runs saved. (``equal_steps.tsv``)"""
        return self._factors_file("equal_steps.tsv", corpus)

    def factors_figure(self, name: str, corpus="{corpus}") -> str:
        """A figure: ``figures/<name>.png``."""
        return self._factors_file(f"figures/{name}.png", corpus)
