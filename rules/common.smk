# What the rules share: the layout of every path (speechneurons.layout), what the config plans
# (speechneurons.study.Study: corpora, models, layers, checkpoints, variants, runs), the input
# functions (speechneurons.inputs.Inputs, as I) and the global wildcard constraints. No rules,
# no logic: that lives in src/speechneurons/.
from speechneurons.config import section_params
from speechneurons.inputs import Inputs, one_of
from speechneurons.layout import Layout
from speechneurons.study import Study, is_random, random_seed_offset

L = Layout(config)
S = Study(config)
I = Inputs(L, S)
CORPORA = S.corpora  # name -> corpus section; the primary corpus first
MODELS = S.models  # name -> {name, source, path, pretrain}; the primary model first
PAIRS = S.pairs
ALIGNER = config["align"]["aligner"]
# Jobs that can run on a GPU (pretraining, the dump, the probes' features) ask the executor
# for one (resources gpu, sbatch --gpus on SLURM) unless the config pins them to the CPU.
GPU = 0 if config["device"] == "cpu" else 1
# How the feature extractions batch utterances: speed only, no result depends on it.
BATCHING = {key: config["probes"][key] for key in ("batch_seconds", "max_pad_ratio")}
# The checkpoint the experiments prune, erase and probe, and the SAE, dissection and findings
# stages read (experiments.checkpoint).
EXPERIMENTS_CHECKPOINT = I.experiments_checkpoint


wildcard_constraints:
    corpus=one_of(CORPORA),
    model=one_of(MODELS),
    aligner="pocketsphinx|mfa|reference|textgrids",
    speaker=r"[A-Za-z0-9_]+",
    shard=r"\d+",
    iteration=r"\d+",
    checkpoint=r"final|random|random-\d+|ctc|step-\d+",
    layer=r"\d+",
    subset="mid|sample",
    arch=one_of(config["saes"]["architectures"]),
    reset=r"\d+",


# Large outputs that nothing reads once their readers have run (the dump's sample arrays, the
# variants' features and pruned models): deleted after them (temp) unless keep_intermediates.
def intermediate(path):
    """``path``, or ``temp(path)`` unless the config's keep_intermediates is set."""
    return path if config["keep_intermediates"] else temp(path)
