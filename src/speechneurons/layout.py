"""The results layout: every path the workflow reads or writes, defined once.

:class:`Layout` is built from the validated config. Each method returns one path; its keyword
arguments default to Snakemake wildcards (``"{corpus}"``, ``"{model}"``, ...), so a rule uses
``L.manifest()`` as an output pattern and a target list uses ``L.manifest(corpus="synth")``.
Rules, input functions, target lists and tests all take their paths from here; library
modules never choose a file name, they write the paths their caller gives them.

The tree, with ``<results>`` = the config's ``results_dir``::

    <results>/<corpus>/corpus/        manifest.tsv, skipped.tsv, speakers.tsv, listing.tsv, audio/, reference/, parts/
    <results>/<corpus>/align/<aligner>/   shards/<k>/, textgrids/, report.tsv, failed.tsv, quality.*
    <results>/<corpus>/labels/<aligner>/  frame_labels.parquet, utterances.tsv, selection.parquet
    <results>/<corpus>/pitch/         f0.parquet, pitch_frames.parquet, pitch_bins.json, ...
    <results>/<corpus>/models/<model>/    iteration-<i>/{targets.*, train_log.tsv, final/, checkpoints/step-<N>/}
    <results>/<corpus>/activations/<model>/<checkpoint>/   layer-<L>/{mid,sample}.npy, index_*.parquet
    <results>/<corpus>/properties/<model>/<checkpoint>/    layer-<L>/..., summary.tsv, figures/
    <results>/<corpus>/experiments/<model>/                probes/, prune/, erasure/, tables, figures/
    <results>/<corpus>/trajectories/<model>/               checkpoints/<checkpoint>/, reset_top/n-<n>/, tables, figures/
    <results>/<corpus>/factors/                            runs.tsv, equal_steps.tsv, figures/
    <results>/hub/<model>/download.json                     a Hugging Face model fetched (model.download)
    <results>/logs/...  <results>/benchmarks/...          one log and one benchmark file per job

A checkpoint is ``final`` (the last pretraining iteration's final model, or a Hugging Face
model) or ``step-<N>``, N counted over all pretraining iterations one after the other.
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

    def synth_part(self, name: str, corpus="{corpus}", speaker="{speaker}") -> str:
        """Per-speaker output of the synthesis job: ``utterances.tsv`` or ``reference`` (folder)."""
        return f"{self.corpus_dir(corpus)}/parts/{speaker}/{name}"

    def reference(self, corpus="{corpus}") -> str:
        """The synthesizer's own phone timings, one TextGrid per utterance (synth corpora)."""
        return f"{self.corpus_dir(corpus)}/reference"

    # ------------------------------------------------------------------ align and labels
    def align_dir(self, corpus="{corpus}", aligner="{aligner}") -> str:
        return self._path(corpus, "align", aligner)

    def align_shard(self, corpus="{corpus}", aligner="{aligner}", shard="{shard}") -> str:
        return f"{self.align_dir(corpus, aligner)}/shards/{shard}"

    def mfa_work(self, name: str, corpus="{corpus}") -> str:
        """Folders and files of the MFA run: ``corpus``, ``output``, ``acoustic_model.zip``, ``tmp``."""
        return f"{self.align_dir(corpus, 'mfa')}/work/{name}"

    def textgrids(self, corpus="{corpus}", aligner="{aligner}") -> str:
        return f"{self.align_dir(corpus, aligner)}/textgrids"

    def align_file(self, name: str, corpus="{corpus}", aligner="{aligner}") -> str:
        """``report.tsv``, ``failed.tsv``, ``quality.tsv`` or ``quality.png`` of an aligner."""
        return f"{self.align_dir(corpus, aligner)}/{name}"

    def labels_file(self, name: str, corpus="{corpus}", aligner="{aligner}") -> str:
        """``frame_labels.parquet``, ``utterances.tsv`` or ``selection.parquet``."""
        return self._path(corpus, "labels", aligner, name)

    # ------------------------------------------------------------------ pitch
    def pitch_file(self, name: str, corpus="{corpus}") -> str:
        """``f0.parquet``, ``skipped.tsv``, ``pitch_frames.parquet``, ``pitch_bins.json`` or
        ``f0_distributions.png``."""
        return self._path(corpus, "pitch", name)

    # ------------------------------------------------------------------ model
    def model_dir(self, corpus="{corpus}", model="{model}") -> str:
        return self._path(corpus, "models", model)

    def model_file(self, name: str, corpus="{corpus}", model="{model}") -> str:
        """A file about the whole pretraining: ``heldout.tsv``, ``heldout_curve.png``, ..."""
        return f"{self.model_dir(corpus, model)}/{name}"

    def model_download(self, model="{model}") -> str:
        """<results>/hub/<model>/download.json: a Hugging Face model is in the local cache
        (fetched by the model_download job when model.download is true)."""
        return self._path("hub", model, "download.json")

    def iteration_file(self, name: str, corpus="{corpus}", model="{model}", iteration="{iteration}") -> str:
        """A file of one pretraining iteration: ``targets.parquet``, ``targets.json``,
        ``train_log.tsv`` or ``final`` (the iteration's last model)."""
        return f"{self.model_dir(corpus, model)}/iteration-{iteration}/{name}"

    def checkpoints(self, corpus="{corpus}", model="{model}", iteration="{iteration}") -> str:
        """The folder of an iteration's saved checkpoints, one ``step-<N>`` folder each."""
        return self.iteration_file("checkpoints", corpus, model, iteration)

    def checkpoint_dir(self, corpus="{corpus}", model="{model}", checkpoint="final") -> str:
        """A pretrained checkpoint folder (``save_pretrained`` + head): ``final`` is the last
        iteration's final model, ``step-<N>`` a checkpoint saved by the iteration that ran step N."""
        from speechneurons.model.schedule import checkpoint_iteration

        iteration = checkpoint_iteration(self.models[model]["pretrain"], checkpoint)
        if checkpoint == "final":
            return self.iteration_file("final", corpus, model, iteration)
        return f"{self.checkpoints(corpus, model, iteration)}/{checkpoint}"

    def pretrain_curve(self, corpus="{corpus}", model="{model}") -> str:
        return f"{self.model_dir(corpus, model)}/pretrain_curve.png"

    # ------------------------------------------------------------------ activations
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

    def activations_file(self, name: str, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """``skipped.tsv`` or ``dump.json`` of a dump."""
        return f"{self.activations_dir(corpus, model, checkpoint)}/{name}"

    # ------------------------------------------------------------------ properties
    def properties_dir(self, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        return self._path(corpus, "properties", model, checkpoint)

    def property_layer_file(
        self, name: str, layer="{layer}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """``neurons.json``, ``P.npz``, ``R.parquet``, ``counts.tsv`` or ``skipped.tsv`` of a layer."""
        return f"{self.properties_dir(corpus, model, checkpoint)}/layer-{layer}/{name}"

    def properties_file(self, name: str, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """``summary.tsv`` or a figure under ``figures/``."""
        return f"{self.properties_dir(corpus, model, checkpoint)}/{name}"

    # ------------------------------------------------------------------ experiments
    def experiments_dir(self, corpus="{corpus}", model="{model}") -> str:
        return self._path(corpus, "experiments", model)

    def experiments_file(self, name: str, corpus="{corpus}", model="{model}") -> str:
        """``pruning.tsv``, ``erasure.tsv``, ``probes/...`` or ``figures/...``."""
        return f"{self.experiments_dir(corpus, model)}/{name}"

    def pruned(
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

    def erased(self, name: str, erasure="{erasure}", kind="{kind}", corpus="{corpus}", model="{model}") -> str:
        """A file of one erasure or its control: ``losses.parquet`` or ``erased_neurons.json``."""
        return f"{self.experiments_dir(corpus, model)}/erasure/{erasure}/{kind}/{name}"

    # ------------------------------------------------------------------ comparison
    def comparison_file(self, name: str) -> str:
        """A table or figure over every (corpus, model) pair of the run."""
        return self._path("comparison", name)

    # ------------------------------------------------------------------ findings
    def findings_file(self, name: str, corpus="{corpus}", model="{model}") -> str:
        """``findings.tsv`` or ``findings.html``: the papers' claims checked on this run."""
        return self._path(corpus, "findings", model, name)

    # ------------------------------------------------------------------ saes
    def saes_dir(self, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        return self._path(corpus, "saes", model, checkpoint)

    def saes_file(self, name: str, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """A file about all SAEs of a checkpoint: ``evaluation.tsv``, ``claims.tsv``, ``units.tsv``,
        ``features_vs_neurons.tsv``, ``splice.tsv``, ``erasure.tsv``, ``masked_prediction.tsv``,
        ``probes/...`` or ``figures/...``."""
        return f"{self.saes_dir(corpus, model, checkpoint)}/{name}"

    def sae_file(
        self, name: str, layer="{layer}", arch="{arch}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """A file of the SAEs of one layer and architecture: ``evaluation.tsv``, ``evaluation.npz``,
        ``train_log.tsv``, ``sweep`` (folder of the k sweep's SAEs), and the property statistic on
        the latents: ``latents.json`` (as neurons.json), ``P.npz``, ``R.parquet``, ``counts.tsv``,
        ``skipped.tsv``, ``null.tsv``."""
        return f"{self.saes_dir(corpus, model, checkpoint)}/layer-{layer}/{arch}/{name}"

    def sae_model(
        self, k, layer="{layer}", arch="{arch}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """The SAE (folder: ``sae.safetensors``, ``settings.json``) at the config's k."""
        return self.sae_file(f"k-{k}", layer, arch, corpus, model, checkpoint)

    def sae_sweep_model(
        self, k, layer="{layer}", arch="{arch}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """An SAE of the k sweep (folder), inside ``sweep``."""
        return f"{self.sae_file('sweep', layer, arch, corpus, model, checkpoint)}/k-{k}"

    # --- dissection
    # <results>/<corpus>/dissection/<model>/<checkpoint>/   items/, layer-<L>/, tables, figures/, browser.html
    # <results>/dissection-llm-cache/                       LLM answers, kept across reruns
    def dissection_dir(self, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        return self._path(corpus, "dissection", model, checkpoint)

    def dissection_items(self, name: str, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """``phone.parquet``, ``phone.json``, ``utterance.parquet`` or ``utterance.json``: the
        items of a dump with their attributes and captions, and the attributes' bin edges."""
        return f"{self.dissection_dir(corpus, model, checkpoint)}/items/{name}"

    def dissection_layer_file(
        self, name: str, layer="{layer}", corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """``neurons.tsv``, ``shared.tsv``, ``similarity.npz``, ``agreement.tsv`` or ``summary.json``."""
        return f"{self.dissection_dir(corpus, model, checkpoint)}/layer-{layer}/{name}"

    def dissection_file(self, name: str, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}") -> str:
        """``summary.tsv``, ``agreement.tsv``, ``pruning.tsv``, ``pruning_sets.json``, a figure
        under ``figures/`` or ``browser.html`` (the neuron browser, one self-contained page)."""
        return f"{self.dissection_dir(corpus, model, checkpoint)}/{name}"

    def dissection_llm_cache(self) -> str:
        """The LLM writer's answers, one file per question; no job's output, so never deleted by a rerun."""
        return self._path("dissection-llm-cache")

    # ------------------------------------------------------------------ trajectories
    # --- trajectories: <results>/<corpus>/trajectories/<model>/ and <results>/<corpus>/factors/
    def trajectories_dir(self, corpus="{corpus}", model="{model}") -> str:
        return self._path(corpus, "trajectories", model)

    def trajectories_file(self, name: str, corpus="{corpus}", model="{model}") -> str:
        """A file of the layer-wise analysis of a model: ``pwcca.tsv``, ``pwcca_trials.tsv``,
        ``findings.tsv``, ``probes.tsv``, ``probe_losses.parquet``, ``counts.tsv``,
        ``reset_top.tsv``, ``reset_top_rates.tsv``, ``reset_top_utterances.parquet`` or
        ``figures/...``."""
        return f"{self.trajectories_dir(corpus, model)}/{name}"

    def trajectories_checkpoint_file(
        self, name: str, corpus="{corpus}", model="{model}", checkpoint="{checkpoint}"
    ) -> str:
        """The PWCCA of one checkpoint: ``pwcca.tsv`` or ``trials.tsv``."""
        return f"{self.trajectories_dir(corpus, model)}/checkpoints/{checkpoint}/{name}"

    def reset_top_file(self, name: str, reset="{reset}", corpus="{corpus}", model="{model}") -> str:
        """One reset-top fine-tuning (top ``reset`` layers re-initialised): ``per_utterance.parquet``,
        ``train_log.tsv`` or ``rates.tsv``."""
        return f"{self.trajectories_dir(corpus, model)}/reset_top/n-{reset}/{name}"

    def factors_file(self, name: str, corpus="{corpus}") -> str:
        """The comparison of the pretraining runs of a corpus: ``runs.tsv``, ``equal_steps.tsv``
        or ``figures/...``."""
        return self._path(corpus, "factors", name)
