# What the rules share: the layout of every path (speechneurons.layout), the corpora and models
# of the config (speechneurons.study), the wildcard constraints, and the input functions
# Snakemake needs, in pipeline order. Functions only, no rules.
import re

from speechneurons.config import section_params
from speechneurons.layout import Layout
from speechneurons.model.schedule import (
    checkpoint_iteration,
    checkpoint_names,
    checkpoint_schedule,
    iteration_settings,
)
from speechneurons.study import corpora, models

L = Layout(config)
CORPORA = corpora(config)  # name -> corpus section; the primary corpus first
MODELS = models(
    config
)  # name -> {name, source, path, pretrain}; the primary model first
PAIRS = [(corpus, model) for corpus in CORPORA for model in MODELS]
ALIGNER = config["align"]["aligner"]
# Jobs that can run on a GPU (pretraining, the dump, the probes' features) ask the executor
# for one (resources gpu, sbatch --gpus on SLURM) unless the config pins them to the CPU.
GPU = 0 if config["device"] == "cpu" else 1


def one_of(names):
    """A wildcard pattern that matches exactly these names (nothing when there is none)."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


wildcard_constraints:
    corpus=one_of(CORPORA),
    model=one_of(MODELS),
    aligner="pocketsphinx|mfa|reference|textgrids",
    speaker=r"[A-Za-z0-9_]+",
    shard=r"\d+",
    iteration=r"\d+",
    checkpoint=r"final|random|step-\d+",
    layer=r"\d+",
    subset="mid|sample",
    arch=one_of(config["saes"]["architectures"]),  # --- saes
    reset=r"\d+",


# --- corpus
def corpora_of(source):
    """Names of the corpora of a source ('synth' or 'librispeech')."""
    return [name for name, c in CORPORA.items() if c["source"] == source]


def synth_speakers(corpus):
    """Speaker ids of a synthesized corpus (its synth.speakers, or the whole voice table)."""
    from speechneurons.corpus.voices import select_voices

    return [v.speaker for v in select_voices(CORPORA[corpus]["synth"]["speakers"])]


def synth_parts(name):
    """Input function: one per-speaker output ``name`` of every synthesized speaker."""
    return lambda w: [L.synth_part(name, w.corpus, s) for s in synth_speakers(w.corpus)]


def librispeech_listing(w):
    """Input function: the listing (path, size, mtime) of what the corpus stage reads from the
    job's LibriSpeech folder, written here and rewritten only when the folder changes, so that
    replacing, adding or removing audio or transcripts reruns the corpus stage and what depends
    on it (a dry run writes it too)."""
    from speechneurons.corpus.librispeech import librispeech_listing as listing
    from speechneurons.io import write_text_if_changed

    c = CORPORA[w.corpus]["librispeech"]
    path = L.corpus_listing(w.corpus)
    write_text_if_changed(path, listing(c["root"], c["splits"], c["speakers"]))
    return path


def corpus_setting(*keys):
    """Params function: a setting of the job's corpus, e.g. corpus_setting("split", "seed")."""

    def get(w):
        value = CORPORA[w.corpus]
        for key in keys:
            value = value[key]
        return value

    return get


# --- align
def align_shards(w):
    """The shard folders one aligner's gather job merges (MFA runs as one shard, 'all')."""
    shards = ["all"] if w.aligner == "mfa" else range(config["align"]["shards"])
    return [L.align_shard(w.corpus, w.aligner, k) for k in shards]


def reference_timings(w):
    """The synthesizer's TextGrids, for the 'reference' aligner (nothing for the others)."""
    if w.aligner != "reference":
        return []
    if CORPORA[w.corpus]["source"] != "synth":
        raise ValueError(
            f"align.aligner 'reference' needs reference timings, which only a synthesized corpus has "
            f"(corpus {w.corpus} is {CORPORA[w.corpus]['source']}); choose align.aligner: pocketsphinx or mfa"
        )
    return L.reference(w.corpus)


# --- model
def pretrained(model):
    """Whether the workflow pretrains this model (else it is loaded from Hugging Face)."""
    return MODELS[model]["source"] == "pretrain"


def pretrain_of(model):
    """The pretrain section of a pretrained model (the section with the model's overrides)."""
    return MODELS[model]["pretrain"]


def pretrain_setting(key):
    """Params function: a pretraining setting of the job's model."""
    return lambda w: pretrain_of(w.model)[key]


def iterations_of(model):
    """The pretraining iterations of a pretrained model, iteration 1 first."""
    return iteration_settings(pretrain_of(model))


def schedule_of(model):
    """Per iteration, the checkpoints it saves as (local step, global step)."""
    return checkpoint_schedule(
        iterations_of(model), pretrain_of(model)["checkpoint_steps"]
    )


def iteration(w):
    """The settings of the job's pretraining iteration (1-based ``{iteration}``)."""
    its, i = iterations_of(w.model), int(w.iteration)
    if not 1 <= i <= len(its):
        raise ValueError(
            f"pretraining iteration {i} of model {w.model} is not in its iterations (1..{len(its)})"
        )
    return its[i - 1]


def iteration_files(name):
    """Input function: file ``name`` of every pretraining iteration of the job's model."""
    return lambda w: [
        L.iteration_file(name, w.corpus, w.model, i)
        for i in range(1, len(iterations_of(w.model)) + 1)
    ]


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
    out, start, its = [], 0, iterations_of(w.model)
    for i, (it, saved) in enumerate(zip(its, schedule_of(w.model)), start=1):
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
        name = "final" if i == len(its) else f"iteration-{i}-final"
        out.append((name, i, start, L.iteration_file("final", w.corpus, w.model, i)))
    return out


def downloaded(model):
    """Whether the model_download job fetches this model into the Hugging Face cache first
    (model.download: true and a Hugging Face id rather than a local folder)."""
    from speechneurons.model.registry import is_hub_id

    return (
        config["model"]["download"]
        and not pretrained(model)
        and is_hub_id(MODELS[model]["path"])
    )


def model_input(w, checkpoint):
    """File input of a job that loads a checkpoint of the model: the pretrained folder (its
    iteration's checkpoints folder for step-N); for a Hugging Face model, the model_download
    job's marker with model.download, else nothing. The checkpoint 'random' (freshly
    initialised weights) reads the final model's configuration only.
    """
    if not pretrained(w.model):
        return L.model_download(w.model) if downloaded(w.model) else []
    if checkpoint in ("final", "random"):
        return L.checkpoint_dir(w.corpus, w.model, "final")
    iteration_ = checkpoint_iteration(pretrain_of(w.model), checkpoint)
    return L.checkpoints(w.corpus, w.model, iteration_)


def model_ref(w, checkpoint):
    """What the model registry loads for a checkpoint: a folder, or a Hugging Face id/folder."""
    if not pretrained(w.model):
        return MODELS[w.model]["path"]
    return L.checkpoint_dir(
        w.corpus, w.model, "final" if checkpoint == "random" else checkpoint
    )


def checkpoint_input(w):
    """model_input of the job's ``{checkpoint}``."""
    return model_input(w, w.checkpoint)


def checkpoint_ref(w):
    """model_ref of the job's ``{checkpoint}``."""
    return model_ref(w, w.checkpoint)


def model_num_layers(model):
    """Transformer layers of a model: its pretrain num_layers, or the Hugging Face config's
    count, read without weights (offline; with model.download its config.json is fetched
    into the cache when it is not there)."""
    if pretrained(model):
        return int(pretrain_of(model)["num_layers"])
    from speechneurons.model.registry import num_layers_of

    return num_layers_of(MODELS[model]["path"], downloaded(model))


def layers_of(model):
    """Layers (1-based) of the activation dump: activations.layers, or every layer of the model."""
    if config["activations"]["layers"]:
        return sorted({int(l) for l in config["activations"]["layers"]})
    return list(range(1, model_num_layers(model) + 1))


# --- properties
def per_layer(name, checkpoint=None):
    """Input function: the per-layer statistics file ``name`` of every layer of the job's model,
    in layer order, of the job's ``{checkpoint}`` (or of ``checkpoint``)."""
    return lambda w: [
        L.property_layer_file(name, l, w.corpus, w.model, checkpoint or w.checkpoint)
        for l in layers_of(w.model)
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
    if not pretrained(w.model):
        raise ValueError(
            f"experiments.continued_pretraining_steps > 0 needs pretrained models (the HuBERT targets of "
            f"the pretraining stage), but {w.model} is a Hugging Face model; set it to 0"
        )
    return L.iteration_file(
        "targets.parquet", w.corpus, w.model, len(iterations_of(w.model))
    )


PRUNING_VARIANTS = [
    (strategy, float(s))
    for strategy in config["experiments"]["strategies"]
    for s in config["experiments"]["sparsities"]
] + [
    (strategy, None)
    for strategy in ("keep_property", "keep_norm", "keep_random")
    if config["experiments"]["keep_property"]
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


# --- saes
SAE_ARCHS = config["saes"]["architectures"]
SAE_ERASURE_ARCHS = config["saes"]["erasure_architectures"]


def sae_plan_of(model):
    """The SAE layers, sweep and splice layers and budgets of a model (speechneurons.saes.plan)."""
    from speechneurons.saes.plan import sae_plan

    return sae_plan(config["saes"], layers_of(model), config["pitch"]["n_bins"])


def sae_files(name, archs=None, layers="layers"):
    """Input function: file ``name`` of the SAEs of every (layer, architecture) of the job's
    model and checkpoint, layer-major; ``layers``: 'layers' or 'splice_layers' of the plan.
    """
    return lambda w: [
        L.sae_file(name, l, a, w.corpus, w.model, w.checkpoint)
        for l in getattr(sae_plan_of(w.model), layers)
        for a in (SAE_ARCHS if archs is None else archs)
    ]


def sae_models(archs=None):
    """Input function: the SAEs at k of every (splice layer, architecture), layer-major."""
    return lambda w: [
        L.sae_model(config["saes"]["k"], l, a, w.corpus, w.model, w.checkpoint)
        for l in sae_plan_of(w.model).splice_layers
        for a in (SAE_ARCHS if archs is None else archs)
    ]


def sae_masked_prediction(w):
    """The masked-prediction table of a pretrained model's SAEs (nothing for Hugging Face models)."""
    if not pretrained(w.model):
        return []
    return L.saes_file("masked_prediction.tsv", w.corpus, w.model, w.checkpoint)


def checkpoint_targets(w):
    """The targets of the pretraining iteration that produced the job's checkpoint."""
    iteration_ = checkpoint_iteration(pretrain_of(w.model), w.checkpoint)
    return L.iteration_file("targets.parquet", w.corpus, w.model, iteration_)


# --- dissection
def dissection_layers(model):
    """Layers the dissection covers: dissection.layers (each must be in the activation dump), or
    every layer of the dump."""
    dumped = layers_of(model)
    chosen = sorted({int(l) for l in config["dissection"]["layers"]})
    missing = [l for l in chosen if l not in dumped]
    if missing:
        raise ValueError(
            f"dissection.layers {missing} are not in the activation dump of model {model} (layers {dumped}); "
            f"dissect dumped layers only, or add them to activations.layers"
        )
    return chosen or dumped


def dissection_per_layer(name):
    """Input function: file ``name`` of every dissected layer of the job's model and checkpoint."""
    return lambda w: [
        L.dissection_layer_file(name, l, w.corpus, w.model, w.checkpoint)
        for l in dissection_layers(w.model)
    ]


# --- trajectories
from speechneurons.trajectories.runs import (
    analysed,
    checkpoint_steps,
    distinct_checkpoints,
    factor_label,
    describe_schedule,
    total_steps,
)

TRAJ = config["trajectories"]


def trajectory_available(model):
    """The checkpoints of a model with distinct weights (a Hugging Face model: final only)."""
    return distinct_checkpoints(pretrain_of(model)) if pretrained(model) else ["final"]


def trajectory_checkpoints(model):
    """The checkpoints the layer-wise analysis measures (trajectories.checkpoints), in order."""
    out = analysed(TRAJ["checkpoints"], trajectory_available(model))
    if not out:
        raise ValueError(
            f"trajectories.checkpoints {TRAJ['checkpoints']} names no checkpoint of model {model} "
            f"(it has {trajectory_available(model)})"
        )
    return out


def count_checkpoints(model):
    """The checkpoints whose property-neuron counts are gathered (trajectories.count_checkpoints,
    empty = the analysed ones), in order; 'random' (fresh weights) first."""
    wanted = TRAJ["count_checkpoints"] or trajectory_checkpoints(model)
    return analysed(wanted, ["random", *trajectory_available(model)]) or ["final"]


def steps_of(model):
    """Checkpoint -> (iteration, global step) of a pretrained model; {} for a Hugging Face one."""
    return checkpoint_steps(pretrain_of(model)) if pretrained(model) else {}


def reset_top_checkpoint(model):
    """The checkpoint the reset-top fine-tuning starts from (final for a Hugging Face model)."""
    return TRAJ["reset_top"]["checkpoint"] if pretrained(model) else "final"


def trajectory_runs():
    """The pretraining runs compared (trajectories.runs, empty = every pretrained model): each
    run is a model of the config (model or compare.models) with its pretrain overrides.
    """
    runs = TRAJ["runs"] or [m for m in MODELS if pretrained(m)]
    bad = [r for r in runs if r not in MODELS or not pretrained(r)]
    if bad:
        raise ValueError(
            f"trajectories.runs {bad}: a run is the name of a pretrained model of the config "
            f"(model.name or compare.models[*].name with source pretrain); pretrained models: "
            f"{[m for m in MODELS if pretrained(m)]}"
        )
    return runs


def run_descriptions(runs):
    """Per run: name, what it changes against the first run, its schedule and total steps."""
    base = pretrain_of(runs[0])
    return [
        {
            "run": r,
            "factor": factor_label(pretrain_of(r), base),
            "schedule": describe_schedule(pretrain_of(r)),
            "total_steps": total_steps(pretrain_of(r)),
        }
        for r in runs
    ]


def per_checkpoint_pwcca(name):
    """Input function: the per-checkpoint PWCCA file ``name`` of every analysed checkpoint."""
    return lambda w: [
        L.trajectories_checkpoint_file(name, w.corpus, w.model, c)
        for c in trajectory_checkpoints(w.model)
    ]


def trajectory_models(w):
    """File inputs of the probe job: every analysed checkpoint of the model (none for a
    Hugging Face model)."""
    inputs = [model_input(w, c) for c in trajectory_checkpoints(w.model)]
    return sorted({path for path in inputs if path})


def count_summaries(w):
    """The properties summary of every count checkpoint of the job's model."""
    return [
        L.properties_file("summary.tsv", w.corpus, w.model, c)
        for c in count_checkpoints(w.model)
    ]


def run_files(name):
    """Input function: the trajectories file ``name`` of every compared run of the job's corpus."""
    return lambda w: [L.trajectories_file(name, w.corpus, r) for r in trajectory_runs()]


def intermediate(path):
    """A large output that nothing reads once its readers have run: deleted after them (temp)
    unless the config's keep_intermediates is set."""
    return path if config["keep_intermediates"] else temp(path)
