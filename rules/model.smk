# Rules of the model stage: the tiny HuBERT that the workflow pretrains itself
# (model.source = pretrain). Iteration 1: k-means targets of MFCC + deltas on the model frame
# grid, then HuBERT masked prediction. Optional iteration 2 (pretrain.iterations = 2): targets
# from a layer of the iteration-1 model, then training again. The last iteration writes
# results/<corpus>/models/<model>/{final,checkpoints/step-N,train_log.tsv}.
ALL_TARGETS += pretrain_targets()


rule model_targets_mfcc:
    input:
        manifest=manifest_path(),
    output:
        targets=pretrain_targets_path(1),
        info=f"{pretrain_base(1)}/targets.json",
    log:
        f"logs/{corpus_name()}/models/{model_name()}/targets_iter1.log",
    benchmark:
        f"benchmarks/{corpus_name()}/models/{model_name()}/targets_iter1.tsv"
    conda:
        "../envs/speechneurons.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        source="mfcc",
        frames=config["frames"],
        splits=config["pretrain"]["splits"],
        n_clusters=config["pretrain"]["n_clusters"],
        n_mfcc=config["pretrain"]["n_mfcc"],
        max_frames=config["pretrain"]["kmeans_max_frames"],
        on_bad_input=config["on_bad_input"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/model_targets.py"


rule model_pretrain_iter1:
    input:
        manifest=manifest_path(),
        targets=pretrain_targets_path(1),
    output:
        final=directory(f"{pretrain_base(1)}/final"),
        checkpoints=[directory(d) for d in pretrain_checkpoint_dirs(1)],
        train_log=f"{pretrain_base(1)}/train_log.tsv",
    log:
        f"logs/{corpus_name()}/models/{model_name()}/pretrain_iter1.log",
    benchmark:
        f"benchmarks/{corpus_name()}/models/{model_name()}/pretrain_iter1.tsv"
    conda:
        "../envs/speechneurons.yaml"
    threads: 2
    resources:
        mem_mb=6000,
        runtime=120,
        gpu=1,
    params:
        iteration=1,
        frames=config["frames"],
        train=pretrain_train_params(1),
        on_bad_input=config["on_bad_input"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/model_pretrain.py"


if int(config["pretrain"]["iterations"]) == 2:

    rule model_targets_layer:
        input:
            manifest=manifest_path(),
            model=f"{pretrain_base(1)}/final",
        output:
            targets=pretrain_targets_path(2),
            info=f"{pretrain_base(2)}/targets.json",
        log:
            f"logs/{corpus_name()}/models/{model_name()}/targets_iter2.log",
        benchmark:
            f"benchmarks/{corpus_name()}/models/{model_name()}/targets_iter2.tsv"
        conda:
            "../envs/speechneurons.yaml"
        threads: 2
        resources:
            mem_mb=4000,
            runtime=30,
        params:
            source="layer",
            layer=config["pretrain"]["iter2_layer"],
            frames=config["frames"],
            splits=config["pretrain"]["splits"],
            n_clusters=config["pretrain"]["iter2_clusters"],
            n_mfcc=config["pretrain"]["n_mfcc"],
            max_frames=config["pretrain"]["kmeans_max_frames"],
            on_bad_input=config["on_bad_input"],
            seed=config["seed"],
            device=config["device"],
        script:
            "../scripts/model_targets.py"

    rule model_pretrain_iter2:
        input:
            manifest=manifest_path(),
            targets=pretrain_targets_path(2),
            init=pretrain_init_input(),
        output:
            final=directory(f"{pretrain_base(2)}/final"),
            checkpoints=[directory(d) for d in pretrain_checkpoint_dirs(2)],
            train_log=f"{pretrain_base(2)}/train_log.tsv",
        log:
            f"logs/{corpus_name()}/models/{model_name()}/pretrain_iter2.log",
        benchmark:
            f"benchmarks/{corpus_name()}/models/{model_name()}/pretrain_iter2.tsv"
        conda:
            "../envs/speechneurons.yaml"
        threads: 2
        resources:
            mem_mb=6000,
            runtime=120,
            gpu=1,
        params:
            iteration=2,
            frames=config["frames"],
            train=pretrain_train_params(2),
            on_bad_input=config["on_bad_input"],
            seed=config["seed"],
            device=config["device"],
        script:
            "../scripts/model_pretrain.py"


rule model_curve:
    input:
        logs=pretrain_logs(),
    output:
        png=report(
            f"{pretrain_base()}/pretrain_curve.png",
            caption="../report/model/pretrain_curve.rst",
            category="Model",
        ),
    log:
        f"logs/{corpus_name()}/models/{model_name()}/curve.log",
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/model_curve.py"
