# Rules of the experiments stage: pruning that protects property neurons, property erasure,
# and the frozen-feature probes that score them (DESIGN.md, "Pruning and erasure").
# One job per (strategy, sparsity) prunes; another probes the pruned model, so changing a probe
# setting reruns the probes and tables but never the pruning. One job per erasure (and per
# random control) erases in memory and probes. Tables and figures gather the per-utterance
# losses and compute bootstrap intervals.


ALL_TARGETS += experiments_targets()

EXP = experiments_dir()
EXP_LOG = "logs/" + corpus_name() + "/experiments/" + model_name()
EXP_BENCH = "benchmarks/" + corpus_name() + "/experiments/" + model_name()


rule experiments_probe_unpruned:
    input:
        model=experiments_model,
        manifest=manifest_path(),
        labels=frame_labels_path(),
        pitch=pitch_frames_path(),
    output:
        losses=EXP + "/probes/unpruned/losses.parquet",
        layers=EXP + "/probes/unpruned/layers.tsv",
        best=EXP + "/probes/best_layers.json",
    params:
        ref=experiments_model_ref(),
        probe=experiments_probe_params(),
        device=config["device"],
    log:
        EXP_LOG + "/probe_unpruned.log",
    benchmark:
        EXP_BENCH + "/probe_unpruned.tsv"
    threads: 1
    resources:
        mem_mb=6000,
        runtime=60,
    conda:
        "../envs/speechneurons.yaml"
    script:
        "../scripts/experiments_probe_unpruned.py"


rule experiments_prune:
    input:
        model=experiments_model,
        neurons=experiments_neuron_files(),
        targets=experiments_pretrain_targets(),
        manifest=manifest_path(),
    output:
        model=directory(EXP + "/prune/{strategy}/sparsity-{sparsity}/model"),
        plan=EXP + "/prune/{strategy}/sparsity-{sparsity}/plan.tsv",
    wildcard_constraints:
        strategy="norm|protect|random",
        sparsity=r"0\.\d+",
    params:
        ref=experiments_model_ref(),
        sparsity=lambda wildcards: float(wildcards.sparsity),
        protect_properties=config["experiments"]["protect_properties"],
        steps=config["experiments"]["continued_pretraining_steps"],
        seed=config["seed"],
        device=config["device"],
    log:
        EXP_LOG + "/prune/{strategy}/sparsity-{sparsity}/prune.log",
    benchmark:
        EXP_BENCH + "/prune/{strategy}/sparsity-{sparsity}/prune.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../envs/speechneurons.yaml"
    script:
        "../scripts/experiments_prune.py"


rule experiments_probe_pruned:
    input:
        model=EXP + "/prune/{strategy}/sparsity-{sparsity}/model",
        best=EXP + "/probes/best_layers.json",
        manifest=manifest_path(),
        labels=frame_labels_path(),
        pitch=pitch_frames_path(),
    output:
        losses=EXP + "/prune/{strategy}/sparsity-{sparsity}/losses.parquet",
    wildcard_constraints:
        strategy="norm|protect|random",
        sparsity=r"0\.\d+",
    params:
        probe=experiments_probe_params(),
        probe_layers=config["experiments"]["probe_layers"],
        device=config["device"],
    log:
        EXP_LOG + "/prune/{strategy}/sparsity-{sparsity}/probe.log",
    benchmark:
        EXP_BENCH + "/prune/{strategy}/sparsity-{sparsity}/probe.tsv"
    threads: 1
    resources:
        mem_mb=6000,
        runtime=60,
    conda:
        "../envs/speechneurons.yaml"
    script:
        "../scripts/experiments_probe_pruned.py"


rule experiments_erase:
    input:
        model=experiments_model,
        neurons=experiments_neuron_files(),
        best=EXP + "/probes/best_layers.json",
        manifest=manifest_path(),
        labels=frame_labels_path(),
        pitch=pitch_frames_path(),
    output:
        losses=EXP + "/erasure/{erasure}/{kind}/losses.parquet",
        neurons=EXP + "/erasure/{erasure}/{kind}/erased_neurons.json",
    wildcard_constraints:
        erasure=r"(phone_type|gender|pitch)-[A-Za-z0-9_]+",
        kind="property|random",
    params:
        ref=experiments_model_ref(),
        probe=experiments_probe_params(),
        probe_layers=config["experiments"]["probe_layers"],
        seed=config["seed"],
        device=config["device"],
    log:
        EXP_LOG + "/erasure/{erasure}/{kind}.log",
    benchmark:
        EXP_BENCH + "/erasure/{erasure}/{kind}.tsv"
    threads: 1
    resources:
        mem_mb=6000,
        runtime=60,
    conda:
        "../envs/speechneurons.yaml"
    script:
        "../scripts/experiments_erase.py"


rule experiments_pruning_table:
    input:
        unpruned=EXP + "/probes/unpruned/losses.parquet",
        best=EXP + "/probes/best_layers.json",
        plans=experiments_pruning_variants("plan.tsv"),
        losses=experiments_pruning_variants("losses.parquet"),
    output:
        table=EXP + "/pruning.tsv",
    params:
        probe_layers=config["experiments"]["probe_layers"],
        n_boot=config["experiments"]["bootstrap_resamples"],
        level=config["experiments"]["ci_level"],
        seed=config["seed"],
    log:
        EXP_LOG + "/pruning_table.log",
    resources:
        mem_mb=2000,
        runtime=20,
    conda:
        "../envs/speechneurons.yaml"
    script:
        "../scripts/experiments_pruning_table.py"


rule experiments_erasure_table:
    input:
        unpruned=EXP + "/probes/unpruned/losses.parquet",
        best=EXP + "/probes/best_layers.json",
        losses=experiments_erasure_variants("losses.parquet"),
        neurons=experiments_erasure_variants("erased_neurons.json"),
    output:
        table=EXP + "/erasure.tsv",
    params:
        probe_layers=config["experiments"]["probe_layers"],
        n_boot=config["experiments"]["bootstrap_resamples"],
        level=config["experiments"]["ci_level"],
        seed=config["seed"],
    log:
        EXP_LOG + "/erasure_table.log",
    resources:
        mem_mb=2000,
        runtime=20,
    conda:
        "../envs/speechneurons.yaml"
    script:
        "../scripts/experiments_erasure_table.py"


rule experiments_pruning_figure:
    input:
        table=EXP + "/pruning.tsv",
    output:
        figure=report(
            EXP + "/figures/pruning.png",
            caption="../report/experiments/pruning.rst",
            category="Pruning",
        ),
    params:
        title=f"{model_name()} on {corpus_name()}",
    log:
        EXP_LOG + "/pruning_figure.log",
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/speechneurons.yaml"
    script:
        "../scripts/experiments_pruning_figure.py"


rule experiments_erasure_figure:
    input:
        table=EXP + "/erasure.tsv",
    output:
        figure=report(
            EXP + "/figures/erasure.png",
            caption="../report/experiments/erasure.rst",
            category="Erasure",
        ),
    params:
        title=f"{model_name()} on {corpus_name()}",
    log:
        EXP_LOG + "/erasure_figure.log",
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/speechneurons.yaml"
    script:
        "../scripts/experiments_erasure_figure.py"
