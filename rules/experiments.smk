# The experiments stage: pruning that protects property neurons, property erasure, and the
# frozen-feature probes that score them (docs/pruning-and-erasure.md, docs/probes.md). Every
# variant (a pruned or erased model) silences FFN neurons of the unpruned model, so one job
# extracts the features of all variants (each utterance's front-end once, the transformer once
# per variant) and another trains all their probes; a probe setting reruns only the probes, a
# pruning setting never the unpruned model's features. Tables and figures gather the
# per-utterance losses and compute bootstrap intervals.
#
# Outputs under results/<corpus>/experiments/<model>/ (speechneurons.layout):
#   probes/frames.parquet, utterances.parquet   the probed frames and utterances (every variant)
#   probes/unpruned/features.npz, losses.parquet, layers.tsv; probes/best_layers.json
#   prune/<strategy>/sparsity-<s>/   model/ (the pruned model), plan.tsv, pruned_neurons.json,
#                                    features.npz, losses.parquet
#   erasure/<property>-<group>/<property|random>/   erased_neurons.json, features.npz, losses.parquet
#   pruning.tsv, erasure.tsv, figures/pruning.png, figures/erasure.png
#   control_effects.tsv   pruning and erasure effects against scored_control_draws matched
#                         control draws (fixed probes, test utterances), rank p-values
from speechneurons.probing.features import FrameSettings
from speechneurons.probing.probes import ProbeSettings
from speechneurons.experiments.matching import MatchSettings
from speechneurons.model.pretrain import TrainSettings
from speechneurons.properties.reference import REFERENCE_PRUNING_SPARSITY

ALL_TARGETS += [
    L.experiments_file(name, c, m)
    for c, m in PAIRS
    for name in ["pruning.tsv", "figures/pruning.png"]
    + (
        ["erasure.tsv", "figures/erasure.png"]
        if config["experiments"]["erasures"]
        else []
    )
]
TABLES = dict(
    probe_layers=config["probes"]["layers"],
    resamples=config["bootstrap"]["resamples"],
    level=config["bootstrap"]["level"],
    seed=config["seed"],
)


rule experiments_features_unpruned:
    input:
        model=experiments_model,
        manifest=L.manifest(),
        labels=L.labels_file("frame_labels.parquet", aligner=ALIGNER),
        pitch=L.pitch_file("pitch_frames.parquet"),
    output:
        features=L.experiments_file("probes/unpruned/features.npz"),
        frames=L.experiments_file("probes/frames.parquet"),
        utterances=L.experiments_file("probes/utterances.parquet"),
        skipped=L.experiments_file("probes/skipped.tsv"),
    log:
        L.log("{corpus}", "experiments", "{model}", "features_unpruned"),
    benchmark:
        L.benchmark("{corpus}", "experiments", "{model}", "features_unpruned")
    conda:
        "../envs/speechneurons.yaml"
    threads: 2
    resources:
        mem_mb=6000,
        runtime=60,
        gpu=GPU,
    params:
        model_ref=experiments_model_ref,
        frames=config["frames"],
        frame_settings=section_params(FrameSettings, config["probes"]),
        seed=config["seed"],
        on_bad_input=config["on_bad_input"],
        device=config["device"],
    script:
        "../scripts/experiments_features_unpruned.py"


rule experiments_probes_unpruned:
    input:
        features=L.experiments_file("probes/unpruned/features.npz"),
        frames=L.experiments_file("probes/frames.parquet"),
        utterances=L.experiments_file("probes/utterances.parquet"),
    output:
        losses=L.experiments_file("probes/unpruned/losses.parquet"),
        layers=L.experiments_file("probes/unpruned/layers.tsv"),
        best=L.experiments_file("probes/best_layers.json"),
    log:
        L.log("{corpus}", "experiments", "{model}", "probes_unpruned"),
    benchmark:
        L.benchmark("{corpus}", "experiments", "{model}", "probes_unpruned")
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        probes=section_params(ProbeSettings, config["probes"]),
        seed=config["seed"],
    script:
        "../scripts/experiments_probes_unpruned.py"


rule experiments_prune:
    input:
        model=experiments_model,
        neurons=per_layer("neurons.json", EXPERIMENTS_CHECKPOINT),
        P=per_layer("P.npz", EXPERIMENTS_CHECKPOINT),
        targets=continued_pretraining_targets,
        manifest=L.manifest(),
    output:
        controls=L.experiments_file("prune/protect_random_match.tsv"),
        models=[directory(L.pruned("model", st, sp)) for st, sp in PRUNING_VARIANTS],
        plans=[L.pruned("plan.tsv", st, sp) for st, sp in PRUNING_VARIANTS],
        neurons=[L.pruned("pruned_neurons.json", st, sp) for st, sp in PRUNING_VARIANTS],
    log:
        L.log("{corpus}", "experiments", "{model}", "prune"),
    benchmark:
        L.benchmark("{corpus}", "experiments", "{model}", "prune")
    conda:
        "../envs/speechneurons.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        variants=PRUNING_VARIANTS,
        matching=section_params(MatchSettings, config["experiments"]),
        model_ref=experiments_model_ref,
        protect_properties=config["experiments"]["protect_properties"],
        continued_pretraining_steps=config["experiments"]["continued_pretraining_steps"],
        # continued pretraining trains with the pretraining stage's settings, read only when it is on
        train=lambda w: (
            section_params(TrainSettings, pretrain_of(w.model))
            if config["experiments"]["continued_pretraining_steps"]
            else {}
        ),
        pretrain_splits=lambda w: (pretrain_of(w.model) or {}).get("splits", []),
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/experiments_prune.py"


rule experiments_erasure_sets:
    input:
        neurons=per_layer("neurons.json", EXPERIMENTS_CHECKPOINT),
        P=per_layer("P.npz", EXPERIMENTS_CHECKPOINT),
    output:
        neurons=[
            L.erased("erased_neurons.json", er, kind) for er, kind in ERASURE_VARIANTS
        ],
        controls=L.experiments_file("erasure/random_match.tsv"),
    log:
        L.log("{corpus}", "experiments", "{model}", "erasure_sets"),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        variants=ERASURE_VARIANTS,
        matching=section_params(MatchSettings, config["experiments"]),
        seed=config["seed"],
    script:
        "../scripts/experiments_erasure_sets.py"


rule experiments_features_variants:
    input:
        model=experiments_model,
        best=L.experiments_file("probes/best_layers.json"),
        frames=L.experiments_file("probes/frames.parquet"),
        manifest=L.manifest(),
        pruned=[L.pruned("pruned_neurons.json", st, sp) for st, sp in PRUNING_VARIANTS],
        erased=[
            L.erased("erased_neurons.json", er, kind) for er, kind in ERASURE_VARIANTS
        ],
        # the pruned models themselves only when continued pretraining changed their weights
        models=[
            L.pruned("model", st, sp)
            for st, sp in PRUNING_VARIANTS
            if config["experiments"]["continued_pretraining_steps"]
        ],
    output:
        [L.pruned("features.npz", st, sp) for st, sp in PRUNING_VARIANTS]
        + [L.erased("features.npz", er, kind) for er, kind in ERASURE_VARIANTS],
    log:
        L.log("{corpus}", "experiments", "{model}", "features_variants"),
    benchmark:
        L.benchmark("{corpus}", "experiments", "{model}", "features_variants")
    conda:
        "../envs/speechneurons.yaml"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=GPU,
    params:
        model_ref=experiments_model_ref,
        pruning=PRUNING_VARIANTS,
        erasures=ERASURE_VARIANTS,
        pruned_models_differ=config["experiments"]["continued_pretraining_steps"] > 0,
        probe_layers=config["probes"]["layers"],
        tasks=config["probes"]["tasks"],
        on_bad_input=config["on_bad_input"],
        device=config["device"],
    script:
        "../scripts/experiments_features_variants.py"


rule experiments_probes_variants:
    input:
        features=[L.pruned("features.npz", st, sp) for st, sp in PRUNING_VARIANTS]
        + [L.erased("features.npz", er, kind) for er, kind in ERASURE_VARIANTS],
        best=L.experiments_file("probes/best_layers.json"),
        frames=L.experiments_file("probes/frames.parquet"),
        utterances=L.experiments_file("probes/utterances.parquet"),
    output:
        [L.pruned("losses.parquet", st, sp) for st, sp in PRUNING_VARIANTS]
        + [L.erased("losses.parquet", er, kind) for er, kind in ERASURE_VARIANTS],
    log:
        L.log("{corpus}", "experiments", "{model}", "probes_variants"),
    benchmark:
        L.benchmark("{corpus}", "experiments", "{model}", "probes_variants")
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        probes=section_params(ProbeSettings, config["probes"]),
        probe_layers=config["probes"]["layers"],
        seed=config["seed"],
    script:
        "../scripts/experiments_probes_variants.py"


rule experiments_pruning_table:
    input:
        unpruned=L.experiments_file("probes/unpruned/losses.parquet"),
        best=L.experiments_file("probes/best_layers.json"),
        plans=pruning_files("plan.tsv"),
        losses=pruning_files("losses.parquet"),
    output:
        table=L.experiments_file("pruning.tsv"),
    log:
        L.log("{corpus}", "experiments", "{model}", "pruning_table"),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        **TABLES,
        variants=PRUNING_VARIANTS,
    script:
        "../scripts/experiments_pruning_table.py"


rule experiments_erasure_table:
    input:
        unpruned=L.experiments_file("probes/unpruned/losses.parquet"),
        best=L.experiments_file("probes/best_layers.json"),
        losses=erasure_files("losses.parquet"),
        neurons=erasure_files("erased_neurons.json"),
    output:
        table=L.experiments_file("erasure.tsv"),
        gender=L.experiments_file("erasure_gender.tsv"),
        phone_type=L.experiments_file("erasure_phone_type.tsv"),
    log:
        L.log("{corpus}", "experiments", "{model}", "erasure_table"),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        **TABLES,
        variants=ERASURE_VARIANTS,
    script:
        "../scripts/experiments_erasure_table.py"


# the pruning comparison needs protect and norm, and models that silencing reproduces
CONTROL_PRUNING = {"protect", "norm", "protect_random"} <= set(
    config["experiments"]["strategies"]
) and not config["experiments"]["continued_pretraining_steps"]


rule experiments_control_effects:
    input:
        model=experiments_model,
        manifest=L.manifest(),
        features=L.experiments_file("probes/unpruned/features.npz"),
        frames=L.experiments_file("probes/frames.parquet"),
        utterances=L.experiments_file("probes/utterances.parquet"),
        best=L.experiments_file("probes/best_layers.json"),
        neurons=per_layer("neurons.json", EXPERIMENTS_CHECKPOINT),
        P=per_layer("P.npz", EXPERIMENTS_CHECKPOINT),
    output:
        table=L.experiments_file("control_effects.tsv"),
    log:
        L.log("{corpus}", "experiments", "{model}", "control_effects"),
    benchmark:
        L.benchmark("{corpus}", "experiments", "{model}", "control_effects")
    conda:
        "../envs/speechneurons.yaml"
    threads: 2
    resources:
        mem_mb=6000,
        runtime=120,
        gpu=GPU,
    params:
        model_ref=experiments_model_ref,
        matching=section_params(MatchSettings, config["experiments"]),
        scored_control_draws=config["experiments"]["scored_control_draws"],
        pruning_comparable=CONTROL_PRUNING,
        # only the sparsity the findings read (nearest the paper's): a budget choice
        sparsities=[
            min(
                config["experiments"]["sparsities"],
                key=lambda s: (abs(s - REFERENCE_PRUNING_SPARSITY), s),
            )
        ],
        erasures=config["experiments"]["erasures"],
        protect_properties=config["experiments"]["protect_properties"],
        probes=section_params(ProbeSettings, config["probes"]),
        probe_layers=config["probes"]["layers"],
        level=config["bootstrap"]["level"],
        seed=config["seed"],
        on_bad_input=config["on_bad_input"],
        device=config["device"],
    script:
        "../scripts/experiments_control_effects.py"


rule experiments_pruning_figure:
    input:
        table=L.experiments_file("pruning.tsv"),
    output:
        figure=report(
            L.experiments_file("figures/pruning.png"),
            caption="../report/experiments/pruning.rst",
            category="Pruning",
        ),
    log:
        L.log("{corpus}", "experiments", "{model}", "pruning_figure"),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        title=lambda w: f"{w.model} on {w.corpus}",
    script:
        "../scripts/experiments_pruning_figure.py"


rule experiments_erasure_figure:
    input:
        table=L.experiments_file("erasure.tsv"),
    output:
        figure=report(
            L.experiments_file("figures/erasure.png"),
            caption="../report/experiments/erasure.rst",
            category="Erasure",
        ),
    log:
        L.log("{corpus}", "experiments", "{model}", "erasure_figure"),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        title=lambda w: f"{w.model} on {w.corpus}",
    script:
        "../scripts/experiments_erasure_figure.py"
