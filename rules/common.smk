# What the rules share: the layout of every path (speechneurons.layout), what the config plans
# (speechneurons.study.Study: corpora, models, layers, checkpoints, variants, runs), the global
# wildcard constraints, and the input functions of more than one stage. Functions only, no
# rules; the helpers of one stage live in its .smk, the logic in src/speechneurons/.
import re

from speechneurons.config import section_params
from speechneurons.layout import Layout
from speechneurons.study import Study

L = Layout(config)
S = Study(config)
CORPORA = S.corpora  # name -> corpus section; the primary corpus first
MODELS = S.models  # name -> {name, source, path, pretrain}; the primary model first
PAIRS = S.pairs
ALIGNER = config["align"]["aligner"]
# Jobs that can run on a GPU (pretraining, the dump, the probes' features) ask the executor
# for one (resources gpu, sbatch --gpus on SLURM) unless the config pins them to the CPU.
GPU = 0 if config["device"] == "cpu" else 1
# How the feature extractions batch utterances: speed only, no result depends on it.
BATCHING = {key: config["probes"][key] for key in ("batch_seconds", "max_pad_ratio")}
# The checkpoint the experiments prune, erase and probe (and the SAE, dissection and findings
# stages read): experiments.checkpoint.
EXPERIMENTS_CHECKPOINT = config["experiments"]["checkpoint"]


def one_of(names):
    """A wildcard pattern that matches exactly these names (nothing when there is none)."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


wildcard_constraints:
    corpus=one_of(CORPORA),
    model=one_of(MODELS),
    aligner="pocketsphinx|mfa|reference",
    speaker=r"[A-Za-z0-9_]+",
    shard=r"\d+",
    iteration=r"\d+",
    checkpoint=r"final|random|step-\d+",
    layer=r"\d+",
    subset="mid|sample",
    arch=one_of(config["saes"]["architectures"]),
    reset=r"\d+",


def pretrain_setting(key):
    """Params function: a pretraining setting of the job's model."""
    return lambda w: S.pretrain_of(w.model)[key]


def model_input(w, checkpoint):
    """File input of a job that loads a checkpoint of the model: the pretrained folder (its
    iteration's checkpoints folder for step-N), nothing for a Hugging Face model. The checkpoint
    'random' (freshly initialised weights) reads the final model's configuration only."""
    if not S.pretrained(w.model):
        return []
    if checkpoint in ("final", "random"):
        return L.checkpoint_dir(w.corpus, w.model, "final")
    return L.checkpoints(w.corpus, w.model, S.checkpoint_iteration(w.model, checkpoint))


def model_ref(w, checkpoint):
    """What the model registry loads for a checkpoint: a folder, or a Hugging Face id/folder."""
    if not S.pretrained(w.model):
        return MODELS[w.model]["path"]
    return L.checkpoint_dir(w.corpus, w.model, "final" if checkpoint == "random" else checkpoint)


def checkpoint_input(w):
    """model_input of the job's ``{checkpoint}``."""
    return model_input(w, w.checkpoint)


def checkpoint_ref(w):
    """model_ref of the job's ``{checkpoint}``."""
    return model_ref(w, w.checkpoint)


def per_layer(name, checkpoint=None):
    """Input function: the per-layer statistics file ``name`` of every layer of the job's model,
    in layer order, of the job's ``{checkpoint}`` (or of ``checkpoint``)."""
    return lambda w: [
        L.property_layer_file(name, l, w.corpus, w.model, checkpoint or w.checkpoint) for l in S.layers_of(w.model)
    ]
