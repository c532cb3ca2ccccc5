# What the rules share: the layout of every path (speechneurons.layout), the wildcard
# constraints, and the input functions Snakemake needs, in pipeline order. Functions only,
# no rules.
import re

from speechneurons.config import section_params
from speechneurons.layout import Layout
from speechneurons.model.schedule import (
    checkpoint_iteration,
    checkpoint_names,
    checkpoint_schedule,
    iteration_settings,
)

L = Layout(config)
CORPUS = config["corpus"]["name"]
MODEL = config["model"]["name"]
ALIGNER = config["align"]["aligner"]
PRETRAINED = config["model"]["source"] == "pretrain"


wildcard_constraints:
    corpus=re.escape(CORPUS),
    model=re.escape(MODEL),
    aligner="pocketsphinx|mfa|reference",
    speaker=r"[A-Za-z0-9_]+",
    shard=r"\d+",
    iteration=r"\d+",
    checkpoint=r"final|step-\d+",
    layer=r"\d+",
    subset="mid|sample",


# --- corpus
def synth_speakers():
    """Speaker ids of the synthesized corpus (corpus.synth.speakers, or the whole voice table)."""
    from speechneurons.corpus.voices import select_voices

    return [v.speaker for v in select_voices(config["corpus"]["synth"]["speakers"])]


def synth_parts(name):
    """Input function: one per-speaker output ``name`` of every synthesized speaker."""
    return lambda w: [L.synth_part(name, w.corpus, s) for s in synth_speakers()]


# --- align
def align_shards(w):
    """The shard folders one aligner's gather job merges (MFA runs as one shard, 'all')."""
    shards = ["all"] if w.aligner == "mfa" else range(config["align"]["shards"])
    return [L.align_shard(w.corpus, w.aligner, k) for k in shards]


def reference_timings(w):
    """The synthesizer's TextGrids, for the 'reference' aligner (nothing for the others)."""
    if w.aligner != "reference":
        return []
    if config["corpus"]["source"] != "synth":
        raise ValueError(
            "align.aligner 'reference' needs reference timings, which only the synthesized corpus "
            "(corpus.source: synth) has; choose align.aligner: pocketsphinx or mfa"
        )
    return L.reference(w.corpus)


# --- model
ITERATIONS = iteration_settings(config["pretrain"])
#: per iteration, the checkpoints it saves as (local step, global step)
CHECKPOINTS = checkpoint_schedule(ITERATIONS, config["pretrain"]["checkpoint_steps"])


def iteration(w):
    """The settings of the job's pretraining iteration (1-based ``{iteration}``)."""
    i = int(w.iteration)
    if not 1 <= i <= len(ITERATIONS):
        raise ValueError(
            f"pretraining iteration {i} is not in pretrain.iterations (1..{len(ITERATIONS)})"
        )
    return ITERATIONS[i - 1]


def previous_model(w):
    """The previous iteration's final model, when this iteration needs it (targets from a
    layer, or training resumed from it)."""
    it = iteration(w)
    if int(w.iteration) == 1 or (it.targets == "mfcc" and it.init == "scratch"):
        return []
    return L.iteration_file("final", w.corpus, w.model, int(w.iteration) - 1)


def heldout_checkpoints(w):
    """Every saved checkpoint as (name, iteration, global step, folder), iteration by iteration,
    each iteration's final model included."""
    out, start = [], 0
    for i, (it, saved) in enumerate(zip(ITERATIONS, CHECKPOINTS), start=1):
        for _, step in saved:
            out.append(
                (
                    f"step-{step}",
                    i,
                    step,
                    L.checkpoint_dir(w.corpus, w.model, f"step-{step}"),
                )
            )
        start += it.steps
        name = "final" if i == len(ITERATIONS) else f"iteration-{i}-final"
        out.append((name, i, start, L.iteration_file("final", w.corpus, w.model, i)))
    return out


def model_input(w, checkpoint):
    """File input of a job that loads a checkpoint of the model: the pretrained folder (its
    iteration's checkpoints folder for step-N), nothing for a Hugging Face model."""
    if not PRETRAINED:
        return []
    if checkpoint == "final":
        return L.checkpoint_dir(w.corpus, w.model, "final")
    return L.checkpoints(
        w.corpus, w.model, checkpoint_iteration(config["pretrain"], checkpoint)
    )


def model_ref(w, checkpoint):
    """What the model registry loads for a checkpoint: a folder, or a Hugging Face id/folder."""
    if not PRETRAINED:
        return config["model"]["path"]
    return L.checkpoint_dir(w.corpus, w.model, checkpoint)


def checkpoint_input(w):
    """model_input of the job's ``{checkpoint}``."""
    return model_input(w, w.checkpoint)


def checkpoint_ref(w):
    """model_ref of the job's ``{checkpoint}``."""
    return model_ref(w, w.checkpoint)


def model_layers():
    """Layers (1-based) of the activation dump: activations.layers, or every layer of the model
    (pretrain.num_layers, or the Hugging Face config's count, read offline without weights).
    """
    if config["activations"]["layers"]:
        return sorted({int(l) for l in config["activations"]["layers"]})
    if PRETRAINED:
        return list(range(1, int(config["pretrain"]["num_layers"]) + 1))
    from speechneurons.model.registry import num_layers_of

    return list(range(1, num_layers_of(config["model"]["path"]) + 1))


# --- properties
def per_layer(name, checkpoint=None):
    """Input function: the per-layer statistics file ``name`` of every layer, in layer order, of
    the job's ``{checkpoint}`` (or of ``checkpoint``)."""
    return lambda w: [
        L.property_layer_file(name, l, w.corpus, w.model, checkpoint or w.checkpoint)
        for l in model_layers()
    ]


# --- experiments
EXPERIMENTS_CHECKPOINT = config["experiments"]["checkpoint"]


def experiments_model(w):
    """model_input of the checkpoint the experiments prune, erase and probe."""
    return model_input(w, EXPERIMENTS_CHECKPOINT)


def experiments_model_ref(w):
    """model_ref of the checkpoint the experiments prune, erase and probe."""
    return model_ref(w, EXPERIMENTS_CHECKPOINT)


def continued_pretraining_targets(w):
    """The targets of the last pretraining iteration, for continued pretraining of pruned models."""
    if config["experiments"]["continued_pretraining_steps"] == 0:
        return []
    if not PRETRAINED:
        raise ValueError(
            "experiments.continued_pretraining_steps > 0 needs model.source: pretrain "
            "(the HuBERT targets of the pretraining stage); set it to 0"
        )
    return L.iteration_file("targets.parquet", w.corpus, w.model, len(ITERATIONS))


PRUNING_VARIANTS = [
    (strategy, float(s))
    for strategy in config["experiments"]["strategies"]
    for s in config["experiments"]["sparsities"]
]
ERASURE_VARIANTS = [
    (erasure, kind)
    for erasure in config["experiments"]["erasures"]
    for kind in ("property", "random")
]


def pruning_files(name):
    """Input function: file ``name`` of every pruning variant, in PRUNING_VARIANTS order."""
    return lambda w: [
        L.pruned(name, st, sp, w.corpus, w.model) for st, sp in PRUNING_VARIANTS
    ]


def erasure_files(name):
    """Input function: file ``name`` of every erasure and control, in ERASURE_VARIANTS order."""
    return lambda w: [
        L.erased(name, er, kind, w.corpus, w.model) for er, kind in ERASURE_VARIANTS
    ]
