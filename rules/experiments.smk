# Rules of the experiments stage: pruning that protects property neurons, property erasure,
# and the frozen-feature probes that score them (DESIGN.md, "Pruning and erasure").
# One job per (strategy, sparsity) prunes; another probes the pruned model, so changing a probe
# setting reruns the probes and tables but never the pruning. One job per erasure (and per
# random control) erases in memory and probes. Tables and figures gather the per-utterance
# losses and compute bootstrap intervals.
#
# Outputs under results/<corpus>/experiments/<model>/:
#   probes/unpruned/losses.parquet   per test utterance and stratum: task, layer, utt_id, speaker,
#                                    gender, stratum, loss_sum, n_items (every layer)
#   probes/unpruned/layers.tsv       point scores of every layer; probes/best_layers.json
#   probes/unpruned/skipped.tsv      utterances skipped with on_bad_input: skip
#   prune/<strategy>/sparsity-<s>/model/         the pruned model (save_pretrained, smaller)
#   prune/<strategy>/sparsity-<s>/plan.tsv       per layer: width, pruned, protected, protected pruned
#   prune/<strategy>/sparsity-<s>/losses.parquet probe losses of the pruned model
#   erasure/<property>-<group>/<property|random>/{losses.parquet,erased_neurons.json}
#   pruning.tsv, erasure.tsv, figures/pruning.png, figures/erasure.png


ALL_TARGETS += experiments_targets()

EXP = experiments_dir()
EXP_LOG = f"logs/{corpus_name()}/experiments/{model_name()}"
EXP_BENCH = f"benchmarks/{corpus_name()}/experiments/{model_name()}"


rule experiments_probe_unpruned:
    input:
        model=experiments_model,
        manifest=manifest_path(),
        labels=frame_labels_path(),
        pitch=pitch_frames_path(),
    output:
        losses=f"{EXP}/probes/unpruned/losses.parquet",
        layers=f"{EXP}/probes/unpruned/layers.tsv",
        best=f"{EXP}/probes/best_layers.json",
        skipped=f"{EXP}/probes/unpruned/skipped.tsv",
    log:
        f"{EXP_LOG}/probe_unpruned.log",
    benchmark:
        f"{EXP_BENCH}/probe_unpruned.tsv"
    conda:
        "../envs/speechneurons.yaml"
    threads: 1
    resources:
        mem_mb=6000,
        runtime=60,
    params:
        ref=experiments_model_ref(),
        probe=experiments_probe_params(),
        frames=config["frames"],
        on_bad_input=config["on_bad_input"],
        device=config["device"],
    script:
        "../scripts/experiments_probe_unpruned.py"


rule experiments_prune:
    input:
        model=experiments_model,
        neurons=experiments_neuron_files(),
        targets=experiments_pretrain_targets(),
        manifest=manifest_path(),
    output:
        model=directory(f"{EXP}/prune/{{strategy}}/sparsity-{{sparsity}}/model"),
        plan=f"{EXP}/prune/{{strategy}}/sparsity-{{sparsity}}/plan.tsv",
    log:
        f"{EXP_LOG}/prune/{{strategy}}/sparsity-{{sparsity}}/prune.log",
    benchmark:
        f"{EXP_BENCH}/prune/{{strategy}}/sparsity-{{sparsity}}/prune.tsv"
    wildcard_constraints:
        strategy="norm|protect|random",
        sparsity=r"0\.\d+",
    conda:
        "../envs/speechneurons.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        ref=experiments_model_ref(),
        sparsity=lambda wildcards: float(wildcards.sparsity),
        protect_properties=config["experiments"]["protect_properties"],
        steps=config["experiments"]["continued_pretraining_steps"],
        pretrain=experiments_pretrain_options(),
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/experiments_prune.py"


rule experiments_probe_pruned:
    input:
        model=f"{EXP}/prune/{{strategy}}/sparsity-{{sparsity}}/model",
        best=f"{EXP}/probes/best_layers.json",
        manifest=manifest_path(),
        labels=frame_labels_path(),
        pitch=pitch_frames_path(),
    output:
        losses=f"{EXP}/prune/{{strategy}}/sparsity-{{sparsity}}/losses.parquet",
    log:
        f"{EXP_LOG}/prune/{{strategy}}/sparsity-{{sparsity}}/probe.log",
    benchmark:
        f"{EXP_BENCH}/prune/{{strategy}}/sparsity-{{sparsity}}/probe.tsv"
    wildcard_constraints:
        strategy="norm|protect|random",
        sparsity=r"0\.\d+",
    conda:
        "../envs/speechneurons.yaml"
    threads: 1
    resources:
        mem_mb=6000,
        runtime=60,
    params:
        probe=experiments_probe_params(),
        probe_layers=config["experiments"]["probe_layers"],
        on_bad_input=config["on_bad_input"],
        device=config["device"],
    script:
        "../scripts/experiments_probe_pruned.py"


rule experiments_erase:
    input:
        model=experiments_model,
        neurons=experiments_neuron_files(),
        best=f"{EXP}/probes/best_layers.json",
        manifest=manifest_path(),
        labels=frame_labels_path(),
        pitch=pitch_frames_path(),
    output:
        losses=f"{EXP}/erasure/{{erasure}}/{{kind}}/losses.parquet",
        neurons=f"{EXP}/erasure/{{erasure}}/{{kind}}/erased_neurons.json",
    log:
        f"{EXP_LOG}/erasure/{{erasure}}/{{kind}}.log",
    benchmark:
        f"{EXP_BENCH}/erasure/{{erasure}}/{{kind}}.tsv"
    wildcard_constraints:
        erasure=r"(phone_type|gender|pitch)-[A-Za-z0-9_]+",
        kind="property|random",
    conda:
        "../envs/speechneurons.yaml"
    threads: 1
    resources:
        mem_mb=6000,
        runtime=60,
    params:
        ref=experiments_model_ref(),
        probe=experiments_probe_params(),
        probe_layers=config["experiments"]["probe_layers"],
        seed=config["seed"],
        on_bad_input=config["on_bad_input"],
        device=config["device"],
    script:
        "../scripts/experiments_erase.py"


rule experiments_pruning_table:
    input:
        unpruned=f"{EXP}/probes/unpruned/losses.parquet",
        best=f"{EXP}/probes/best_layers.json",
        plans=experiments_pruning_variants("plan.tsv"),
        losses=experiments_pruning_variants("losses.parquet"),
    output:
        table=f"{EXP}/pruning.tsv",
    log:
        f"{EXP_LOG}/pruning_table.log",
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        probe_layers=config["experiments"]["probe_layers"],
        n_boot=config["experiments"]["bootstrap_resamples"],
        level=config["experiments"]["ci_level"],
        seed=config["seed"],
    script:
        "../scripts/experiments_pruning_table.py"


rule experiments_erasure_table:
    input:
        unpruned=f"{EXP}/probes/unpruned/losses.parquet",
        best=f"{EXP}/probes/best_layers.json",
        losses=experiments_erasure_variants("losses.parquet"),
        neurons=experiments_erasure_variants("erased_neurons.json"),
    output:
        table=f"{EXP}/erasure.tsv",
    log:
        f"{EXP_LOG}/erasure_table.log",
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        probe_layers=config["experiments"]["probe_layers"],
        n_boot=config["experiments"]["bootstrap_resamples"],
        level=config["experiments"]["ci_level"],
        seed=config["seed"],
    script:
        "../scripts/experiments_erasure_table.py"


rule experiments_pruning_figure:
    input:
        table=f"{EXP}/pruning.tsv",
    output:
        figure=report(
            f"{EXP}/figures/pruning.png",
            caption="../report/experiments/pruning.rst",
            category="Pruning",
        ),
    log:
        f"{EXP_LOG}/pruning_figure.log",
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        title=f"{model_name()} on {corpus_name()}",
    script:
        "../scripts/experiments_pruning_figure.py"


rule experiments_erasure_figure:
    input:
        table=f"{EXP}/erasure.tsv",
    output:
        figure=report(
            f"{EXP}/figures/erasure.png",
            caption="../report/experiments/erasure.rst",
            category="Erasure",
        ),
    log:
        f"{EXP_LOG}/erasure_figure.log",
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        title=f"{model_name()} on {corpus_name()}",
    script:
        "../scripts/experiments_erasure_figure.py"
