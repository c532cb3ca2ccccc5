# The experiments stage: pruning that protects property neurons, property erasure, and the
# frozen-feature probes that score them (docs/pruning-and-erasure.md, docs/probes.md). One job
# per (strategy, sparsity) prunes; another probes the pruned model, so changing a probe setting
# reruns the probes and tables but never the pruning. One job per erasure (and per random
# control) erases in memory and probes. Tables and figures gather the per-utterance losses and
# compute bootstrap intervals.
#
# Outputs under results/<corpus>/experiments/<model>/ (speechneurons.layout):
#   probes/unpruned/losses.parquet   per test utterance and stratum: task, layer, utt_id, speaker,
#                                    gender, stratum, loss_sum, n_items (every layer)
#   probes/unpruned/layers.tsv       point scores of every layer; probes/best_layers.json
#   probes/unpruned/skipped.tsv      utterances skipped with on_bad_input: skip
#   prune/<strategy>/sparsity-<s>/   model/ (the pruned model), plan.tsv, losses.parquet
#   erasure/<property>-<group>/<property|random>/   losses.parquet, erased_neurons.json
#   pruning.tsv, erasure.tsv, figures/pruning.png, figures/erasure.png
from speechneurons.experiments.probes import ProbeSettings
from speechneurons.model.pretrain import TrainSettings

ALL_TARGETS += [
    L.experiments_file(name, CORPUS, MODEL)
    for name in ["pruning.tsv", "figures/pruning.png"]
    + (
        ["erasure.tsv", "figures/erasure.png"]
        if config["experiments"]["erasures"]
        else []
    )
]
PROBES = dict(
    probes=section_params(ProbeSettings, config["probes"]),
    seed=config["seed"],
    on_bad_input=config["on_bad_input"],
    device=config["device"],
)
TABLES = dict(
    probe_layers=config["probes"]["layers"],
    resamples=config["bootstrap"]["resamples"],
    level=config["bootstrap"]["level"],
    seed=config["seed"],
)


rule experiments_probe_unpruned:
    input:
        model=experiments_model,
        manifest=L.manifest(),
        labels=L.labels_file("frame_labels.parquet", aligner=ALIGNER),
        pitch=L.pitch_file("pitch_frames.parquet"),
    output:
        losses=L.experiments_file("probes/unpruned/losses.parquet"),
        layers=L.experiments_file("probes/unpruned/layers.tsv"),
        best=L.experiments_file("probes/best_layers.json"),
        skipped=L.experiments_file("probes/unpruned/skipped.tsv"),
    log:
        L.log("{corpus}", "experiments", "{model}", "probe_unpruned"),
    benchmark:
        L.benchmark("{corpus}", "experiments", "{model}", "probe_unpruned")
    conda:
        "../envs/speechneurons.yaml"
    threads: 1
    resources:
        mem_mb=6000,
        runtime=60,
    params:
        **PROBES,
        model_ref=experiments_model_ref,
        frames=config["frames"],
    script:
        "../scripts/experiments_probe_unpruned.py"


rule experiments_prune:
    input:
        model=experiments_model,
        neurons=per_layer("neurons.json", EXPERIMENTS_CHECKPOINT),
        targets=continued_pretraining_targets,
        manifest=L.manifest(),
    output:
        model=directory(L.pruned("model")),
        plan=L.pruned("plan.tsv"),
    log:
        L.log(
            "{corpus}",
            "experiments",
            "{model}",
            "prune",
            "{strategy}",
            "sparsity-{sparsity}",
            "prune",
        ),
    benchmark:
        L.benchmark(
            "{corpus}",
            "experiments",
            "{model}",
            "prune",
            "{strategy}",
            "sparsity-{sparsity}",
            "prune",
        )
    conda:
        "../envs/speechneurons.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        model_ref=experiments_model_ref,
        sparsity=lambda w: float(w.sparsity),
        protect_properties=config["experiments"]["protect_properties"],
        continued_pretraining_steps=config["experiments"]["continued_pretraining_steps"],
        # continued pretraining trains with the pretraining stage's settings, read only when it is on
        train=(
            section_params(TrainSettings, config["pretrain"])
            if config["experiments"]["continued_pretraining_steps"]
            else {}
        ),
        pretrain_splits=config["pretrain"]["splits"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/experiments_prune.py"


rule experiments_probe_pruned:
    input:
        model=L.pruned("model"),
        best=L.experiments_file("probes/best_layers.json"),
        manifest=L.manifest(),
        labels=L.labels_file("frame_labels.parquet", aligner=ALIGNER),
        pitch=L.pitch_file("pitch_frames.parquet"),
    output:
        losses=L.pruned("losses.parquet"),
    log:
        L.log(
            "{corpus}",
            "experiments",
            "{model}",
            "prune",
            "{strategy}",
            "sparsity-{sparsity}",
            "probe",
        ),
    benchmark:
        L.benchmark(
            "{corpus}",
            "experiments",
            "{model}",
            "prune",
            "{strategy}",
            "sparsity-{sparsity}",
            "probe",
        )
    conda:
        "../envs/speechneurons.yaml"
    threads: 1
    resources:
        mem_mb=6000,
        runtime=60,
    params:
        **PROBES,
        probe_layers=config["probes"]["layers"],
    script:
        "../scripts/experiments_probe_pruned.py"


rule experiments_erase:
    input:
        model=experiments_model,
        neurons=per_layer("neurons.json", EXPERIMENTS_CHECKPOINT),
        best=L.experiments_file("probes/best_layers.json"),
        manifest=L.manifest(),
        labels=L.labels_file("frame_labels.parquet", aligner=ALIGNER),
        pitch=L.pitch_file("pitch_frames.parquet"),
    output:
        losses=L.erased("losses.parquet"),
        neurons=L.erased("erased_neurons.json"),
    log:
        L.log("{corpus}", "experiments", "{model}", "erasure", "{erasure}", "{kind}"),
    benchmark:
        L.benchmark(
            "{corpus}", "experiments", "{model}", "erasure", "{erasure}", "{kind}"
        )
    conda:
        "../envs/speechneurons.yaml"
    threads: 1
    resources:
        mem_mb=6000,
        runtime=60,
    params:
        **PROBES,
        model_ref=experiments_model_ref,
        probe_layers=config["probes"]["layers"],
    script:
        "../scripts/experiments_erase.py"


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
