# The model stage: the tiny HuBERT that the workflow pretrains itself (model.source: pretrain),
# one job pair per item of pretrain.iterations: frame targets (k-means of MFCC + deltas, or of
# a layer of the previous iteration's model), then HuBERT masked prediction. A Hugging Face
# model (model.source: huggingface) is loaded offline where it is used; with model.download it
# is first fetched into the Hugging Face cache by model_download, ahead of every other job.
from speechneurons.model.settings import ModelSettings
from speechneurons.model.settings import TrainSettings

ALL_TARGETS += [
    path
    for c, m in PAIRS
    if S.pretrained(m)
    for path in [
        L.checkpoint_dir(c, m, "final"),
        L.pretrain_curve(c, m),
        L.heldout(c, m),
        L.heldout_curve(c, m),
        *(L.checkpoints(c, m, i) for i in range(1, len(S.iterations_of(m)) + 1)),
    ]
]


# The one job that goes online (model.download: true); a local rule (on a cluster the login
# node has the internet), run first (priority). A model cached already is not fetched again.
rule model_download:
    output:
        marker=L.model_download(),
    log:
        L.log("hub", "{model}", "download"),
    wildcard_constraints:
        model=one_of(m for m in MODELS if S.downloaded(m)),
    priority: 100
    localrule: True
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=120,
    params:
        ref=lambda w: S.models[w.model]["path"],
    script:
        "../scripts/model_download.py"


rule model_targets:
    input:
        manifest=L.manifest(),
        model=I.previous_model,
    output:
        targets=L.iteration_targets(),
        centres=L.iteration_centres(),
        info=L.iteration_targets_info(),
    log:
        L.log("{corpus}", "models", "{model}", "targets_{iteration}"),
    benchmark:
        L.benchmark("{corpus}", "models", "{model}", "targets_{iteration}")
    wildcard_constraints:
        model=one_of(m for m in MODELS if S.pretrained(m)),
    conda:
        "../envs/speechneurons.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        targets=lambda w: I.iteration(w).targets,
        layer=lambda w: I.iteration(w).layer,
        n_clusters=lambda w: I.iteration(w).n_clusters,
        n_mfcc=I.pretrain_setting("n_mfcc"),
        kmeans_max_frames=I.pretrain_setting("kmeans_max_frames"),
        splits=I.pretrain_setting("splits"),
        frames=config["frames"],
        on_bad_input=config["on_bad_input"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/model_targets.py"


rule model_pretrain:
    input:
        manifest=L.manifest(),
        targets=L.iteration_targets(),
        init=lambda w: I.previous_model(w) if I.iteration(w).init == "resume" else [],
    output:
        final=directory(L.iteration_final()),
        checkpoints=directory(L.checkpoints()),
        train_log=L.iteration_train_log(),
    log:
        L.log("{corpus}", "models", "{model}", "pretrain_{iteration}"),
    benchmark:
        L.benchmark("{corpus}", "models", "{model}", "pretrain_{iteration}")
    wildcard_constraints:
        model=one_of(m for m in MODELS if S.pretrained(m)),
    conda:
        "../envs/speechneurons.yaml"
    threads: 2
    resources:
        mem_mb=6000,
        runtime=120,
        gpu=GPU,
    params:
        iteration=lambda w: int(w.iteration),
        steps=lambda w: I.iteration(w).steps,
        init=lambda w: I.iteration(w).init,
        start_step=lambda w: sum(it.steps for it in S.iterations_of(w.model)[: int(w.iteration) - 1]),
        checkpoint_steps=lambda w: [local for local, _ in S.schedule_of(w.model)[int(w.iteration) - 1]],
        model=lambda w: section_params(ModelSettings, S.pretrain_of(w.model)),
        train=lambda w: section_params(TrainSettings, S.pretrain_of(w.model)),
        splits=I.pretrain_setting("splits"),
        frames=config["frames"],
        on_bad_input=config["on_bad_input"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/model_pretrain.py"


rule model_curve:
    input:
        logs=I.iteration_files(L.iteration_train_log),
    output:
        png=report(
            L.pretrain_curve(),
            caption="../report/model/pretrain_curve.rst",
            category="Model",
        ),
    log:
        L.log("{corpus}", "models", "{model}", "curve"),
    wildcard_constraints:
        model=one_of(m for m in MODELS if S.pretrained(m)),
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
        checkpoints=lambda w: [L.checkpoints(w.corpus, w.model, i) for i in range(1, len(S.iterations_of(w.model)) + 1)],
        finals=I.iteration_files(L.iteration_final),
        targets=I.iteration_files(L.iteration_targets),
        logs=I.iteration_files(L.iteration_train_log),
    output:
        table=L.heldout(),
        png=report(
            L.heldout_curve(),
            caption="../report/model/heldout_curve.rst",
            category="Model",
        ),
    log:
        L.log("{corpus}", "models", "{model}", "heldout"),
    benchmark:
        L.benchmark("{corpus}", "models", "{model}", "heldout")
    wildcard_constraints:
        model=one_of(m for m in MODELS if S.pretrained(m)),
    conda:
        "../envs/speechneurons.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        checkpoints=lambda w: I.heldout_checkpoints(w),
        splits=I.pretrain_setting("splits"),
        heldout_utterances=I.pretrain_setting("heldout_utterances"),
        mask_prob=I.pretrain_setting("mask_prob"),
        mask_length=I.pretrain_setting("mask_length"),
        frames=config["frames"],
        on_bad_input=config["on_bad_input"],
        seed=config["seed"],
    script:
        "../scripts/model_heldout.py"


# A planted model (model source 'planted', docs/positive-controls.md): the final model of its
# base with property neurons (or the null twin's speaker-keyed units) written in by weight
# surgery, the directions estimated on the base model's activation-dump frames.
rule model_plant:
    input:
        base=I.planted_base_model,
        index=I.planted_base_index,
        manifest=L.manifest(),
        phone_items=I.planted_base_items,
    output:
        model=directory(L.planted_model()),
    log:
        L.log("{corpus}", "models", "{model}", "plant"),
    benchmark:
        L.benchmark("{corpus}", "models", "{model}", "plant")
    wildcard_constraints:
        model=one_of(m for m in MODELS if S.planted(m)),
    conda:
        "../envs/speechneurons.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        base=lambda w: S.planted_base(w.model),
        planted=lambda w: S.models[w.model]["planted"],
        n_pitch_bins=config["pitch"]["n_bins"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/model_plant.py"
