# Input functions and path helpers shared by the rules (functions only, no rules: snakemake
# --lint asks for that). Paths follow the layout documented in the README, "Outputs".
import os

from speechneurons.frames import FrameGrid


def results(*parts):
    """A path under the results folder of this config: results/<parts...>."""
    return os.path.join(config["results_dir"], *map(str, parts))


def corpus_name():
    return config["corpus"]["name"]


def frame_grid():
    """The model frame grid of this config (labels, pitch and activations share it)."""
    return FrameGrid.from_config(config["frames"])


def manifest_path(wildcards=None):
    """results/<corpus>/corpus/manifest.tsv"""
    return results(corpus_name(), "corpus", "manifest.tsv")


def frame_labels_path(wildcards=None):
    """Frame labels of the configured aligner: results/<corpus>/labels/<aligner>/frame_labels.parquet"""
    return results(
        corpus_name(), "labels", config["align"]["aligner"], "frame_labels.parquet"
    )


def pitch_frames_path(wildcards=None):
    """Per-frame F0 and pitch groups: results/<corpus>/pitch/pitch_frames.parquet"""
    return results(corpus_name(), "pitch", "pitch_frames.parquet")


def model_name():
    return config["model"]["name"]


def model_dir(checkpoint="final"):
    """Folder of a workflow-pretrained checkpoint: results/<corpus>/models/<model>/final or
    .../checkpoints/<checkpoint> (checkpoint = 'step-N')."""
    base = pretrain_base()
    return (
        f"{base}/final" if checkpoint == "final" else f"{base}/checkpoints/{checkpoint}"
    )


def model_checkpoint_input(checkpoint):
    """File input of a model stage: the pretrained checkpoint folder, or nothing for a Hugging
    Face model (loaded offline from the local cache or a local folder, see model.path).
    """
    if config["model"]["source"] == "huggingface":
        return []
    return model_dir(checkpoint)


def model_checkpoint_ref(checkpoint):
    """What the model registry loads: a Hugging Face id/local folder or the pretrained folder."""
    if config["model"]["source"] == "huggingface":
        return config["model"]["path"]
    return model_dir(checkpoint)


def model_input(wildcards):
    """model_checkpoint_input for the job's {checkpoint} wildcard (default final)."""
    return model_checkpoint_input(wildcards.get("checkpoint", "final"))


def model_ref(wildcards):
    """model_checkpoint_ref for the job's {checkpoint} wildcard (default final)."""
    return model_checkpoint_ref(wildcards.get("checkpoint", "final"))


# --- corpus ---
def synth_speakers():
    """Speaker ids of the synthesized corpus (corpus.synth.speakers, or the whole voice table)."""
    from speechneurons.corpus.voices import select_voices

    return [v.speaker for v in select_voices(config["corpus"]["synth"]["speakers"])]


def synth_part_tables(wildcards=None):
    """Per-speaker utterance tables of the synthesized corpus (inputs of the gather job)."""
    return [
        results(corpus_name(), "corpus", "parts", s, "utterances.tsv")
        for s in synth_speakers()
    ]


def synth_part_references(wildcards=None):
    """Per-speaker reference TextGrid folders of the synthesized corpus."""
    return [
        results(corpus_name(), "corpus", "parts", s, "reference")
        for s in synth_speakers()
    ]


def reference_dir(wildcards=None):
    """results/<corpus>/corpus/reference: the synthesizer's own timings, one TextGrid per
    utterance (synth only; for a LibriSpeech corpus there is none and this returns []).
    """
    if config["corpus"]["source"] != "synth":
        return []
    return results(corpus_name(), "corpus", "reference")


# --- properties ---
def property_layers():
    """Layers (1-based) with property statistics: every dumped layer."""
    return activation_layers()


def properties_dir(model="{model}", checkpoint="{checkpoint}"):
    """results/<corpus>/properties/<model>/<checkpoint> (wildcards unless given)."""
    return results(corpus_name(), "properties", model, checkpoint)


def properties_file(name, model="{model}", checkpoint="{checkpoint}"):
    """A file of the properties folder of a checkpoint, e.g. summary.tsv."""
    return f"{properties_dir(model, checkpoint)}/{name}"


def properties_log(name, kind="logs", ext="log"):
    """logs/<corpus>/properties/{model}/{checkpoint}/<name>.log (kind='benchmarks',
    ext='tsv' for a benchmark file)."""
    return f"{kind}/{corpus_name()}/properties/{{model}}/{{checkpoint}}/{name}.{ext}"


def property_layer_file(
    name, model="{model}", checkpoint="{checkpoint}", layer="{layer}"
):
    """One output of the per-layer statistics: .../layer-<layer>/<name>."""
    return f"{properties_dir(model, checkpoint)}/layer-{layer}/{name}"


def property_layer_inputs(name):
    """Input function: file <name> of every layer of the wildcards' model, checkpoint."""

    def inputs(wildcards):
        return [
            property_layer_file(name, wildcards.model, wildcards.checkpoint, l)
            for l in property_layers()
        ]

    return inputs


def property_figure_layers():
    """Layers drawn as Venn diagrams and heat maps (venn_layers or first/middle/last)."""
    from speechneurons.properties.statistic import figure_layers

    return figure_layers(config["properties"]["venn_layers"], property_layers())


def property_targets(checkpoint="final"):
    """Default targets of the properties stage for one checkpoint of the configured
    model (none while the layer list is unknown)."""
    if not property_layers():
        return []
    d = properties_dir(model_name(), checkpoint)
    figures = [
        f"{d}/figures/counts_per_layer.png",
        f"{d}/figures/overlaps_per_layer.png",
    ]
    for layer in property_figure_layers():
        figures += [
            f"{d}/figures/venn_layer-{layer}.png",
            f"{d}/figures/heatmap_layer-{layer}.png",
        ]
    return [f"{d}/summary.tsv", *figures]


# --- activations ---
def activation_layers():
    """Layers (1-based) of the activation dump: activations.layers, or every layer of the model
    (pretrain.num_layers for the workflow's model, else the Hugging Face config's count, read
    offline without loading weights)."""
    if config["activations"]["layers"]:
        return sorted({int(l) for l in config["activations"]["layers"]})
    if config["model"]["source"] == "pretrain":
        # [] only while the pretrain schema has no num_layers (then nothing is dumped)
        return list(range(1, int(config["pretrain"].get("num_layers", 0)) + 1))
    from speechneurons.model.registry import num_layers_of

    return list(range(1, num_layers_of(config["model"]["path"]) + 1))


def selection_path(wildcards=None):
    """Frames to dump: results/<corpus>/labels/<aligner>/selection.parquet"""
    return results(
        corpus_name(), "labels", config["align"]["aligner"], "selection.parquet"
    )


def activations_dir(model="{model}", checkpoint="{checkpoint}"):
    """results/<corpus>/activations/<model>/<checkpoint> (wildcards unless given)."""
    return results(corpus_name(), "activations", model, checkpoint)


def activation_array(
    subset, layer="{layer}", model="{model}", checkpoint="{checkpoint}"
):
    """One dumped array: .../layer-<layer>/<subset>.npy (subset 'mid' or 'sample')."""
    return f"{activations_dir(model, checkpoint)}/layer-{layer}/{subset}.npy"


def activation_arrays(subset, model="{model}", checkpoint="{checkpoint}"):
    """The arrays of every dumped layer (activation_layers()), in layer order."""
    return [activation_array(subset, l, model, checkpoint) for l in activation_layers()]


def activation_index_path(subset, model="{model}", checkpoint="{checkpoint}"):
    """.../index_<subset>.parquet: row i describes row i of every layer's <subset>.npy"""
    return f"{activations_dir(model, checkpoint)}/index_{subset}.parquet"


def activation_targets():
    """Default targets of the activations stage: arrays and indexes of activations.checkpoints."""
    targets = []
    for ckpt in config["activations"]["checkpoints"]:
        for subset in ("mid", "sample"):
            targets += activation_arrays(subset, model_name(), ckpt)
            targets.append(activation_index_path(subset, model_name(), ckpt))
    return targets


# --- experiments ---
def experiments_dir():
    """results/<corpus>/experiments/<model>: pruning, erasure and probe results."""
    return results(corpus_name(), "experiments", model_name())


def experiments_model(wildcards=None):
    """File input: the checkpoint the experiments use (nothing for a Hugging Face model)."""
    return model_checkpoint_input(config["experiments"]["checkpoint"])


def experiments_model_ref(wildcards=None):
    """What load_model loads for the experiments (folder or Hugging Face id)."""
    return model_checkpoint_ref(config["experiments"]["checkpoint"])


def experiments_neuron_files(wildcards=None):
    """neurons.json of every layer with property statistics, for the experiments' checkpoint."""
    ckpt = config["experiments"]["checkpoint"]
    return [
        property_layer_file("neurons.json", model_name(), ckpt, l)
        for l in property_layers()
    ]


def experiments_sparsity_names():
    """Sparsity levels as they appear in paths: sparsity-<s> with s formatted by '%g'."""
    return [format(float(s), "g") for s in config["experiments"]["sparsities"]]


def experiments_pretrain_targets(wildcards=None):
    """Targets table of the pretraining stage, needed only for continued pretraining."""
    if int(config["experiments"]["continued_pretraining_steps"]) == 0:
        return []
    if config["model"]["source"] != "pretrain":
        raise ValueError(
            "experiments.continued_pretraining_steps > 0 needs model.source: pretrain "
            "(the HuBERT targets of the pretraining stage); set it to 0"
        )
    return pretrain_targets_path()


def experiments_pretrain_options():
    """Training settings of continued pretraining (those of the pretraining stage); empty when
    it is off, so that pretraining settings do not rerun the pruning."""
    if int(config["experiments"]["continued_pretraining_steps"]) == 0:
        return {}
    return {
        k: v
        for k, v in pretrain_train_params().items()
        if k not in ("steps", "checkpoint_steps", "init")
    }


def experiments_probe_params():
    """Probe settings passed to every probing job (a change reruns probes, never pruning)."""
    e = config["experiments"]
    return dict(
        tasks=list(e["probe_tasks"]),
        max_frames_train=int(e["max_frames_train"]),
        max_frames_test=int(e["max_frames_test"]),
        classifier=e["probe_classifier"],
        C=float(e["probe_C"]),
        ridge_alpha=float(e["ridge_alpha"]),
        max_iter=int(e["probe_max_iter"]),
        seed=int(config["seed"]),
    )


def experiments_pruning_variants(name):
    """Per-variant files <name> of every (strategy, sparsity) pruning job."""
    d = experiments_dir()
    return [
        f"{d}/prune/{st}/sparsity-{sp}/{name}"
        for st in config["experiments"]["strategies"]
        for sp in experiments_sparsity_names()
    ]


def experiments_erasure_variants(name):
    """Per-variant files <name> of every erasure job and its random control."""
    d = experiments_dir()
    return [
        f"{d}/erasure/{er}/{kind}/{name}"
        for er in config["experiments"]["erasures"]
        for kind in ("property", "random")
    ]


def experiments_targets():
    """Default targets of the experiments stage (none while the layer list is unknown)."""
    if not property_layers():
        return []
    d = experiments_dir()
    targets = [f"{d}/pruning.tsv", f"{d}/figures/pruning.png"]
    if config["experiments"]["erasures"]:
        targets += [f"{d}/erasure.tsv", f"{d}/figures/erasure.png"]
    return targets


# --- align ---
def align_dir(aligner="{aligner}"):
    """results/<corpus>/align/<aligner> (a wildcard unless given)."""
    return results(corpus_name(), "align", aligner)


def align_shard_dirs(wildcards):
    """Shard folders the gather job merges: align/<aligner>/shards/<k> for k < align.shards
    (pocketsphinx, reference), or the single align/mfa/shards/all of the MFA run."""
    if wildcards.aligner == "mfa":
        return [f"{align_dir('mfa')}/shards/all"]
    return [
        f"{align_dir(wildcards.aligner)}/shards/{k}"
        for k in range(config["align"]["shards"])
    ]


def align_reference_input(wildcards):
    """The synthesizer's TextGrids for the 'reference' aligner (nothing for other aligners)."""
    if wildcards.aligner != "reference":
        return []
    if not reference_dir():
        raise ValueError(
            "align.aligner 'reference' needs reference timings, which only the synthesized corpus "
            "(corpus.source: synth) has; choose align.aligner: pocketsphinx or mfa"
        )
    return reference_dir()


def align_quality_targets():
    """quality.tsv and its figure when reference timings exist and the aligner is not them."""
    aligner = config["align"]["aligner"]
    if config["corpus"]["source"] != "synth" or aligner == "reference":
        return []
    return [f"{align_dir(aligner)}/quality.tsv", f"{align_dir(aligner)}/quality.png"]


# --- model ---
def pretrain_base(iteration=None):
    """Folder of a pretraining iteration: the last one writes results/<corpus>/models/<model>
    (final/, checkpoints/, train_log.tsv, targets.parquet); iteration 1 of a two-iteration
    run writes the same layout under .../iter1."""
    last = int(config["pretrain"]["iterations"])
    base = results(corpus_name(), "models", model_name())
    return (
        base
        if iteration is None or int(iteration) == last
        else f"{base}/iter{iteration}"
    )


def pretrain_targets_path(iteration=None):
    """Frame targets table (utt_id, frame, target) of an iteration (default: the last)."""
    return f"{pretrain_base(iteration)}/targets.parquet"


def pretrain_checkpoint_steps(iteration=1):
    """Checkpoint steps of an iteration: pretrain.checkpoint_steps within its step count."""
    p = config["pretrain"]
    steps = int(p["steps"] if int(iteration) == 1 else p["iter2_steps"])
    return sorted({int(s) for s in p["checkpoint_steps"] if int(s) <= steps})


def pretrain_checkpoints():
    """Names of the saved checkpoints of the final model ('step-N' ..., then 'final'), for
    stages that follow information through pretraining."""
    last = int(config["pretrain"]["iterations"])
    return [f"step-{s}" for s in pretrain_checkpoint_steps(last)] + ["final"]


def pretrain_checkpoint_dirs(iteration=1):
    return [
        f"{pretrain_base(iteration)}/checkpoints/step-{s}"
        for s in pretrain_checkpoint_steps(iteration)
    ]


def pretrain_train_params(iteration=1):
    """Model size, masking and optimisation settings of an iteration's training job."""
    p = config["pretrain"]
    keys = [
        "conv_dim",
        "hidden_size",
        "num_layers",
        "num_heads",
        "intermediate_size",
        "stable_layer_norm",
        "conv_pos_kernel",
        "conv_pos_groups",
        "dropout",
        "mask_prob",
        "mask_length",
        "unmasked_weight",
        "final_dim",
        "temperature",
        "batch_size",
        "max_crop_s",
        "lr",
        "warmup_fraction",
        "schedule",
        "weight_decay",
        "grad_clip",
        "log_every",
        "splits",
    ]
    out = {k: p[k] for k in keys}
    out["steps"] = int(p["steps"] if int(iteration) == 1 else p["iter2_steps"])
    out["checkpoint_steps"] = pretrain_checkpoint_steps(iteration)
    out["init"] = "scratch" if int(iteration) == 1 else p["iter2_init"]
    return out


def pretrain_init_input(wildcards=None):
    """The iteration-1 model when the second iteration resumes from it."""
    if config["pretrain"]["iter2_init"] == "resume":
        return f"{pretrain_base(1)}/final"
    return []


def pretrain_logs():
    return [
        f"{pretrain_base(i)}/train_log.tsv"
        for i in range(1, int(config["pretrain"]["iterations"]) + 1)
    ]


def pretrain_targets():
    """Default targets of the model stage (nothing for a Hugging Face model)."""
    if config["model"]["source"] != "pretrain":
        return []
    return [
        f"{pretrain_base()}/final",
        f"{pretrain_base()}/pretrain_curve.png",
    ] + pretrain_checkpoint_dirs(config["pretrain"]["iterations"])
