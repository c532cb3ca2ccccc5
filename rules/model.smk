# The model stage: the tiny HuBERT that the workflow pretrains itself (model.source: pretrain),
# one job pair per item of pretrain.iterations: frame targets (k-means of MFCC + deltas, or of
# a layer of the previous iteration's model), then HuBERT masked prediction. A Hugging Face
# model (model.source: huggingface) has no job here: it is loaded offline where it is used.
from speechneurons.model.hubert import ModelSettings
from speechneurons.model.pretrain import TrainSettings

if PRETRAINED:
    ALL_TARGETS += [
        L.checkpoint_dir(CORPUS, MODEL, "final"),
        L.pretrain_curve(CORPUS, MODEL),
    ]
    ALL_TARGETS += [
        L.checkpoints(CORPUS, MODEL, i) for i in range(1, len(ITERATIONS) + 1)
    ]
    ALL_TARGETS += [
        L.model_file(f, CORPUS, MODEL) for f in ("heldout.tsv", "heldout_curve.png")
    ]


rule model_targets:
    input:
        manifest=L.manifest(),
        model=previous_model,
    output:
        targets=L.iteration_file("targets.parquet"),
        centres=L.iteration_file("kmeans_centres.npy"),
        info=L.iteration_file("targets.json"),
    log:
        L.log("{corpus}", "models", "{model}", "targets_{iteration}"),
    benchmark:
        L.benchmark("{corpus}", "models", "{model}", "targets_{iteration}")
    conda:
        "../envs/speechneurons.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        targets=lambda w: iteration(w).targets,
        layer=lambda w: iteration(w).layer,
        n_clusters=lambda w: iteration(w).n_clusters,
        n_mfcc=config["pretrain"]["n_mfcc"],
        kmeans_max_frames=config["pretrain"]["kmeans_max_frames"],
        splits=config["pretrain"]["splits"],
        frames=config["frames"],
        on_bad_input=config["on_bad_input"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/model_targets.py"


rule model_pretrain:
    input:
        manifest=L.manifest(),
        targets=L.iteration_file("targets.parquet"),
        init=lambda w: previous_model(w) if iteration(w).init == "resume" else [],
    output:
        final=directory(L.iteration_file("final")),
        checkpoints=directory(L.checkpoints()),
        train_log=L.iteration_file("train_log.tsv"),
    log:
        L.log("{corpus}", "models", "{model}", "pretrain_{iteration}"),
    benchmark:
        L.benchmark("{corpus}", "models", "{model}", "pretrain_{iteration}")
    conda:
        "../envs/speechneurons.yaml"
    threads: 2
    resources:
        mem_mb=6000,
        runtime=120,
        gpu=1,
    params:
        steps=lambda w: iteration(w).steps,
        init=lambda w: iteration(w).init,
        start_step=lambda w: sum(it.steps for it in ITERATIONS[: int(w.iteration) - 1]),
        checkpoint_steps=lambda w: [
            local for local, _ in CHECKPOINTS[int(w.iteration) - 1]
        ],
        model=section_params(ModelSettings, config["pretrain"]),
        train=section_params(TrainSettings, config["pretrain"]),
        splits=config["pretrain"]["splits"],
        frames=config["frames"],
        on_bad_input=config["on_bad_input"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/model_pretrain.py"


rule model_curve:
    input:
        logs=lambda w: [
            L.iteration_file("train_log.tsv", w.corpus, w.model, i)
            for i in range(1, len(ITERATIONS) + 1)
        ],
    output:
        png=report(
            L.pretrain_curve(),
            caption="../report/model/pretrain_curve.rst",
            category="Model",
        ),
    log:
        L.log("{corpus}", "models", "{model}", "curve"),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/model_curve.py"


rule model_heldout:
    input:
        manifest=L.manifest(),
        checkpoints=lambda w: [
            L.checkpoints(w.corpus, w.model, i) for i in range(1, len(ITERATIONS) + 1)
        ],
        finals=lambda w: [
            L.iteration_file("final", w.corpus, w.model, i)
            for i in range(1, len(ITERATIONS) + 1)
        ],
        targets=lambda w: [
            L.iteration_file("targets.parquet", w.corpus, w.model, i)
            for i in range(1, len(ITERATIONS) + 1)
        ],
        logs=lambda w: [
            L.iteration_file("train_log.tsv", w.corpus, w.model, i)
            for i in range(1, len(ITERATIONS) + 1)
        ],
    output:
        table=L.model_file("heldout.tsv"),
        png=report(
            L.model_file("heldout_curve.png"),
            caption="../report/model/heldout_curve.rst",
            category="Model",
        ),
    log:
        L.log("{corpus}", "models", "{model}", "heldout"),
    benchmark:
        L.benchmark("{corpus}", "models", "{model}", "heldout")
    conda:
        "../envs/speechneurons.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        checkpoints=lambda w: heldout_checkpoints(w),
        splits=config["pretrain"]["splits"],
        heldout_utterances=config["pretrain"]["heldout_utterances"],
        mask_prob=config["pretrain"]["mask_prob"],
        mask_length=config["pretrain"]["mask_length"],
        frames=config["frames"],
        on_bad_input=config["on_bad_input"],
        seed=config["seed"],
    script:
        "../scripts/model_heldout.py"
