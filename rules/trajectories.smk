# The trajectories stage: layer-wise analysis during pretraining (docs/trajectories.md). Per
# (corpus, model): held-out PWCCA of every layer of every analysed checkpoint against log-Mel
# frames, the front-end output and one-hot phone and word labels (one job per checkpoint); the
# experiments' linear probes on the same layers and utterances (one job for all checkpoints);
# the property-neuron counts of the count checkpoints (the properties stage's summaries, which
# make their dumps run); CTC phone fine-tuning with the top n layers re-initialised (one job
# per n, the learning rate chosen on a dev part of train). Per corpus, when the config has
# several pretrained models (the pretraining runs of trajectories.runs: each run is a model of
# compare.models with its pretrain overrides), their comparison at equal steps.
#
# Outputs: docs/outputs.md (paths from speechneurons.layout).
from speechneurons.probing.features import FrameSettings
from speechneurons.probing.probes import ProbeSettings
from speechneurons.trajectories.settings import (
    PWCCASettings,
    ResetTopSettings,
    SampleSettings,
)

TRAJ = config["trajectories"]


TRAJ_VIEWS = list(TRAJ["pwcca"]["views"])
TRAJ_TASKS = list(config["probes"]["tasks"])
TRAJ_RESETS = [int(n) for n in TRAJ["reset_top"]["n_reset"]]
TRAJ_FIGURES = (
    [f"pwcca_{v}{kind}" for v in TRAJ_VIEWS for kind in ("", "_heatmap")]
    + [f"probe_{t}{kind}" for t in TRAJ_TASKS for kind in ("", "_heatmap")]
    + ["property_counts", "reset_top"]
)
FACTOR_FIGURES = [f"pwcca_{v}" for v in TRAJ_VIEWS] + [f"probe_{t}" for t in TRAJ_TASKS] + ["reset_top"]
FACTOR_STUDY = len(S.trajectory_runs()) >= 2
BOOTSTRAP = dict(
    resamples=config["bootstrap"]["resamples"],
    level=config["bootstrap"]["level"],
    seed=config["seed"],
)

ALL_TARGETS += [
    path
    for c, m in PAIRS
    for path in [
        L.trajectories_pwcca(c, m),
        L.trajectories_findings(c, m),
        L.trajectories_probes(c, m),
        L.trajectories_counts(c, m),
        L.trajectories_reset_top(c, m),
        *(L.trajectories_figure(name, c, m) for name in TRAJ_FIGURES),
    ]
] + [
    path
    for c in CORPORA
    if FACTOR_STUDY
    for path in [L.factors_runs(c), L.factors_equal_steps(c), *(L.factors_figure(name, c) for name in FACTOR_FIGURES)]
]


rule trajectories_pwcca:
    input:
        model=I.checkpoint_input,
        manifest=L.manifest(),
        labels=L.frame_labels(aligner=ALIGNER),
    output:
        summary=L.checkpoint_pwcca(),
        trials=L.checkpoint_pwcca_trials(),
    log:
        L.log("{corpus}", "trajectories", "{model}", "{checkpoint}", "pwcca"),
    benchmark:
        L.benchmark("{corpus}", "trajectories", "{model}", "{checkpoint}", "pwcca")
    conda:
        "../envs/speechneurons.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        checkpoint=lambda w: w.checkpoint,
        batching=BATCHING,
        model_ref=I.checkpoint_ref,
        sample=section_params(SampleSettings, TRAJ),
        pwcca=section_params(PWCCASettings, TRAJ["pwcca"]),
        frames=config["frames"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/trajectories_pwcca.py"


rule trajectories_pwcca_table:
    input:
        summaries=I.per_checkpoint_pwcca(L.checkpoint_pwcca),
        trials=I.per_checkpoint_pwcca(L.checkpoint_pwcca_trials),
    output:
        pwcca=L.trajectories_pwcca(),
        trials=L.trajectories_pwcca_trials(),
        findings=L.trajectories_findings(),
    log:
        L.log("{corpus}", "trajectories", "{model}", "pwcca_table"),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        steps=lambda w: S.steps_of(w.model),
    script:
        "../scripts/trajectories_pwcca_table.py"


rule trajectories_probes:
    input:
        models=I.trajectory_models,
        manifest=L.manifest(),
        labels=L.frame_labels(aligner=ALIGNER),
        pitch=L.pitch_frames(),
    output:
        losses=L.trajectories_probe_losses(),
        table=L.trajectories_probes(),
    log:
        L.log("{corpus}", "trajectories", "{model}", "probes"),
    benchmark:
        L.benchmark("{corpus}", "trajectories", "{model}", "probes")
    conda:
        "../envs/speechneurons.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        **BOOTSTRAP,
        batching=BATCHING,
        checkpoints=lambda w: [(c, I.model_ref(w, c)) for c in S.trajectory_checkpoints(w.model)],
        steps=lambda w: S.steps_of(w.model),
        sample=section_params(SampleSettings, TRAJ),
        probes=section_params(ProbeSettings, config["probes"]),
        frame_settings=section_params(FrameSettings, config["probes"]),
        frames=config["frames"],
        on_bad_input=config["on_bad_input"],
        device=config["device"],
    script:
        "../scripts/trajectories_probes.py"


rule trajectories_counts:
    input:
        summaries=I.count_summaries,
    output:
        table=L.trajectories_counts(),
    log:
        L.log("{corpus}", "trajectories", "{model}", "counts"),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        checkpoints=lambda w: S.count_checkpoints(w.model),
        steps=lambda w: S.steps_of(w.model),
    script:
        "../scripts/trajectories_counts.py"


# With dissection.ctc_twin the job of n = 0 is trajectories_reset_top_twin: the same job, which
# also saves its chosen fine-tuned model (the checkpoint 'ctc' the dissection reads).
RESET_TWIN = S.ctc_twin()


rule trajectories_reset_top:
    input:
        model=lambda w: I.model_input(w, S.reset_top_checkpoint(w.model)),
        manifest=L.manifest(),
        labels=L.frame_labels(aligner=ALIGNER),
    output:
        per_utterance=L.reset_top_per_utterance(),
        train_log=L.reset_top_train_log(),
        rates=L.reset_top_rates(),
    log:
        L.log("{corpus}", "trajectories", "{model}", "reset_top_{reset}"),
    benchmark:
        L.benchmark("{corpus}", "trajectories", "{model}", "reset_top_{reset}")
    wildcard_constraints:
        reset=r"[1-9]\d*|0\d+" if RESET_TWIN else r"\d+",
    conda:
        "../envs/speechneurons.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=GPU,
    params:
        reset=lambda w: int(w.reset),
        model_ref=lambda w: I.model_ref(w, S.reset_top_checkpoint(w.model)),
        settings=section_params(ResetTopSettings, TRAJ["reset_top"]),
        frames=config["frames"],
        on_bad_input=config["on_bad_input"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/trajectories_reset_top.py"


if RESET_TWIN:

    use rule trajectories_reset_top as trajectories_reset_top_twin with:
        output:
            per_utterance=L.reset_top_per_utterance(reset=0),
            train_log=L.reset_top_train_log(reset=0),
            rates=L.reset_top_rates(reset=0),
            model=directory(L.ctc_twin_dir()),
        log:
            L.log("{corpus}", "trajectories", "{model}", "reset_top_0"),
        benchmark:
            L.benchmark("{corpus}", "trajectories", "{model}", "reset_top_0")
        params:
            reset=0,
            model_ref=lambda w: I.model_ref(w, S.reset_top_checkpoint(w.model)),
            settings=section_params(ResetTopSettings, TRAJ["reset_top"]),
            frames=config["frames"],
            on_bad_input=config["on_bad_input"],
            seed=config["seed"],
            device=config["device"],


rule trajectories_reset_top_table:
    input:
        per_utterance=[L.reset_top_per_utterance(n) for n in TRAJ_RESETS],
        train_logs=[L.reset_top_train_log(n) for n in TRAJ_RESETS],
        rates=[L.reset_top_rates(n) for n in TRAJ_RESETS],
    output:
        table=L.trajectories_reset_top(),
        rates=L.trajectories_reset_top_rates(),
        per_utterance=L.trajectories_reset_top_utterances(),
    log:
        L.log("{corpus}", "trajectories", "{model}", "reset_top_table"),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        **BOOTSTRAP,
        n_reset=TRAJ_RESETS,
    script:
        "../scripts/trajectories_reset_top_table.py"


rule trajectories_figures:
    input:
        pwcca=L.trajectories_pwcca(),
        probes=L.trajectories_probes(),
    output:
        curves=[
            report(
                L.trajectories_figure(f"pwcca_{v}"),
                caption="../report/trajectories/pwcca_curves.rst",
                category="Layer-wise analysis",
                subcategory="PWCCA by layer",
            )
            for v in TRAJ_VIEWS
        ],
        heatmaps=[
            report(
                L.trajectories_figure(f"pwcca_{v}_heatmap"),
                caption="../report/trajectories/pwcca_heatmap.rst",
                category="Layer-wise analysis",
                subcategory="PWCCA, checkpoint x layer",
            )
            for v in TRAJ_VIEWS
        ],
        probe_curves=[
            report(
                L.trajectories_figure(f"probe_{t}"),
                caption="../report/trajectories/probe_curves.rst",
                category="Layer-wise analysis",
                subcategory="Probes by layer",
            )
            for t in TRAJ_TASKS
        ],
        probe_heatmaps=[
            report(
                L.trajectories_figure(f"probe_{t}_heatmap"),
                caption="../report/trajectories/probe_heatmap.rst",
                category="Layer-wise analysis",
                subcategory="Probes, checkpoint x layer",
            )
            for t in TRAJ_TASKS
        ],
    log:
        L.log("{corpus}", "trajectories", "{model}", "figures"),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        views=TRAJ_VIEWS,
        tasks=TRAJ_TASKS,
        level=config["bootstrap"]["level"],
        title=lambda w: f"{w.model} on {w.corpus}",
    script:
        "../scripts/trajectories_figures.py"


rule trajectories_counts_figure:
    input:
        table=L.trajectories_counts(),
    output:
        figure=report(
            L.trajectories_figure("property_counts"),
            caption="../report/trajectories/property_counts.rst",
            category="Layer-wise analysis",
        ),
    log:
        L.log("{corpus}", "trajectories", "{model}", "counts_figure"),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        title=lambda w: f"{w.model} on {w.corpus}",
    script:
        "../scripts/trajectories_counts_figure.py"


rule trajectories_reset_top_figure:
    input:
        table=L.trajectories_reset_top(),
    output:
        figure=report(
            L.trajectories_figure("reset_top"),
            caption="../report/trajectories/reset_top.rst",
            category="Layer-wise analysis",
        ),
    log:
        L.log("{corpus}", "trajectories", "{model}", "reset_top_figure"),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        level=config["bootstrap"]["level"],
        title=lambda w: f"{w.model} on {w.corpus}",
    script:
        "../scripts/trajectories_reset_top_figure.py"


rule trajectories_factors:
    input:
        findings=I.run_files(L.trajectories_findings),
        pwcca=I.run_files(L.trajectories_pwcca),
        probes=I.run_files(L.trajectories_probes),
        reset_top=I.run_files(L.trajectories_reset_top),
        heldout=lambda w: [L.heldout(w.corpus, r) for r in S.trajectory_runs()],
    output:
        runs=L.factors_runs(),
        equal_steps=L.factors_equal_steps(),
    log:
        L.log("{corpus}", "trajectories", "factors"),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        runs=lambda w: S.run_descriptions(S.trajectory_runs()),
        steps=lambda w: {r: S.steps_of(r) for r in S.trajectory_runs()},
    script:
        "../scripts/trajectories_factors.py"


rule trajectories_factor_figures:
    input:
        equal_steps=L.factors_equal_steps(),
        runs=L.factors_runs(),
        reset_top=I.run_files(L.trajectories_reset_top),
    output:
        pwcca=[
            report(
                L.factors_figure(f"pwcca_{v}"),
                caption="../report/trajectories/factor_curves.rst",
                category="Layer-wise analysis",
                subcategory="Pretraining factors",
            )
            for v in TRAJ_VIEWS
        ],
        probes=[
            report(
                L.factors_figure(f"probe_{t}"),
                caption="../report/trajectories/factor_curves.rst",
                category="Layer-wise analysis",
                subcategory="Pretraining factors",
            )
            for t in TRAJ_TASKS
        ],
        reset_top=report(
            L.factors_figure("reset_top"),
            caption="../report/trajectories/factor_reset_top.rst",
            category="Layer-wise analysis",
            subcategory="Pretraining factors",
        ),
    log:
        L.log("{corpus}", "trajectories", "factor_figures"),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        runs=lambda w: S.trajectory_runs(),
        views=TRAJ_VIEWS,
        tasks=TRAJ_TASKS,
        level=config["bootstrap"]["level"],
    script:
        "../scripts/trajectories_factor_figures.py"
