# The experiments stage: pruning that protects property neurons, property erasure, and the
# frozen-feature probes that score them (docs/pruning-and-erasure.md, docs/probes.md). Every
# variant (a pruned or erased model) silences FFN neurons of the unpruned model, so one job
# extracts the features of all variants (each utterance's front-end once, the transformer once
# per variant) and another trains all their probes; a probe setting reruns only the probes, a
# pruning setting never the unpruned model's features. Tables and figures gather the
# per-utterance losses and compute bootstrap intervals.
#
# Outputs: docs/outputs.md (paths from speechneurons.layout).
# The variants' features.npz and the pruned models are deleted once read (keep_intermediates).
from speechneurons.probing.features import FrameSettings
from speechneurons.probing.probes import ProbeSettings
from speechneurons.stats.controls import MatchSettings
from speechneurons.model.settings import TrainSettings
from speechneurons.properties.reference import REFERENCE_PRUNING_SPARSITY

PRUNING_VARIANTS = S.pruning_variants()  # (strategy, sparsity); the keep strategies: sparsity None
ERASURE_VARIANTS = S.erasure_variants()  # (erasure, kind)


ALL_TARGETS += [
    path
    for c, m in PAIRS
    for path in [L.pruning_table(c, m), L.experiments_figure("pruning", c, m)]
    + ([L.erasure_table(c, m), L.experiments_figure("erasure", c, m)] if config["experiments"]["erasures"] else [])
    # the scored draws' balance: a target of its own, so that a run from before it existed
    # rescores the control effects (an output nothing requests would never be made)
    + ([L.control_balance(c, m)] if config["experiments"]["scored_control_draws"] else [])
]
TABLES = dict(
    probe_layers=config["probes"]["layers"],
    resamples=config["bootstrap"]["resamples"],
    level=config["bootstrap"]["level"],
    seed=config["seed"],
)


rule experiments_features_unpruned:
    input:
        model=I.experiments_model,
        manifest=L.manifest(),
        labels=L.frame_labels(aligner=ALIGNER),
        pitch=L.pitch_frames(),
    output:
        features=L.unpruned_features(),
        frames=L.probe_frames(),
        utterances=L.probe_utterances(),
        skipped=L.probe_skipped(),
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
        batching=BATCHING,
        model_ref=I.experiments_model_ref,
        frames=config["frames"],
        frame_settings=section_params(FrameSettings, config["probes"]),
        seed=config["seed"],
        on_bad_input=config["on_bad_input"],
        device=config["device"],
    script:
        "../scripts/experiments_features_unpruned.py"


rule experiments_probes_unpruned:
    input:
        features=L.unpruned_features(),
        frames=L.probe_frames(),
        utterances=L.probe_utterances(),
    output:
        losses=L.unpruned_losses(),
        layers=L.unpruned_layers(),
        best=L.best_layers(),
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
        model=I.experiments_model,
        neurons=I.per_layer(L.property_neurons, EXPERIMENTS_CHECKPOINT),
        P=I.per_layer(L.property_P, EXPERIMENTS_CHECKPOINT),
        targets=I.continued_pretraining_targets,
        manifest=L.manifest(),
    output:
        controls=L.pruning_controls(),
        models=[intermediate(directory(L.pruned_model(st, sp))) for st, sp in PRUNING_VARIANTS],
        plans=[L.pruned_plan(st, sp) for st, sp in PRUNING_VARIANTS],
        neurons=[L.pruned_neurons(st, sp) for st, sp in PRUNING_VARIANTS],
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
        model_ref=I.experiments_model_ref,
        protect_properties=config["experiments"]["protect_properties"],
        continued_pretraining_steps=config["experiments"]["continued_pretraining_steps"],
        # continued pretraining trains with the pretraining stage's settings, read only when it is on
        train=lambda w: (
            section_params(TrainSettings, S.pretrain_of(w.model))
            if config["experiments"]["continued_pretraining_steps"]
            else {}
        ),
        pretrain_splits=lambda w: (S.pretrain_of(w.model) or {}).get("splits", []),
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/experiments_prune.py"


rule experiments_erasure_sets:
    input:
        neurons=I.per_layer(L.property_neurons, EXPERIMENTS_CHECKPOINT),
        P=I.per_layer(L.property_P, EXPERIMENTS_CHECKPOINT),
    output:
        neurons=[L.erased_neurons(er, kind) for er, kind in ERASURE_VARIANTS],
        controls=L.erasure_controls(),
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
        erasure_control_rate=config["experiments"]["erasure_control_rate"],
        seed=config["seed"],
    script:
        "../scripts/experiments_erasure_sets.py"


rule experiments_features_variants:
    input:
        model=I.experiments_model,
        best=L.best_layers(),
        frames=L.probe_frames(),
        manifest=L.manifest(),
        pruned=[L.pruned_neurons(st, sp) for st, sp in PRUNING_VARIANTS],
        erased=[L.erased_neurons(er, kind) for er, kind in ERASURE_VARIANTS],
        # the pruned models themselves only when continued pretraining changed their weights
        models=[
            L.pruned_model(st, sp)
            for st, sp in PRUNING_VARIANTS
            if config["experiments"]["continued_pretraining_steps"]
        ],
    output:
        features=[intermediate(L.pruned_features(st, sp)) for st, sp in PRUNING_VARIANTS]
        + [intermediate(L.erased_features(er, kind)) for er, kind in ERASURE_VARIANTS],
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
        batching=BATCHING,
        model_ref=I.experiments_model_ref,
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
        features=[L.pruned_features(st, sp) for st, sp in PRUNING_VARIANTS]
        + [L.erased_features(er, kind) for er, kind in ERASURE_VARIANTS],
        best=L.best_layers(),
        frames=L.probe_frames(),
        utterances=L.probe_utterances(),
    output:
        losses=[L.pruned_losses(st, sp) for st, sp in PRUNING_VARIANTS]
        + [L.erased_losses(er, kind) for er, kind in ERASURE_VARIANTS],
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
        unpruned=L.unpruned_losses(),
        best=L.best_layers(),
        plans=I.pruning_files(L.pruned_plan),
        losses=I.pruning_files(L.pruned_losses),
    output:
        table=L.pruning_table(),
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
        unpruned=L.unpruned_losses(),
        best=L.best_layers(),
        losses=I.erasure_files(L.erased_losses),
        neurons=I.erasure_files(L.erased_neurons),
    output:
        table=L.erasure_table(),
        gender=L.erasure_gender(),
        phone_type=L.erasure_phone_type(),
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
CONTROL_PRUNING = {"protect", "norm", "protect_random"} <= set(config["experiments"]["strategies"]) and not config[
    "experiments"
]["continued_pretraining_steps"]


rule experiments_control_effects:
    input:
        model=I.experiments_model,
        manifest=L.manifest(),
        features=L.unpruned_features(),
        frames=L.probe_frames(),
        utterances=L.probe_utterances(),
        best=L.best_layers(),
        neurons=I.per_layer(L.property_neurons, EXPERIMENTS_CHECKPOINT),
        P=I.per_layer(L.property_P, EXPERIMENTS_CHECKPOINT),
        # the counts against their chance ranges: an erasure of a property with no layer above
        # chance cannot be tested, so its control draws are not scored
        summary=lambda w: L.properties_summary(w.corpus, w.model, EXPERIMENTS_CHECKPOINT),
    output:
        table=L.control_effects(),
        balance=L.control_balance(),
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
        batching=BATCHING,
        model_ref=I.experiments_model_ref,
        matching=section_params(MatchSettings, config["experiments"]),
        scored_control_draws=config["experiments"]["scored_control_draws"],
        pruning_comparable=CONTROL_PRUNING,
        # only the sparsity the findings read (nearest the paper's): a budget choice
        sparsities=[min(config["experiments"]["sparsities"], key=lambda s: (abs(s - REFERENCE_PRUNING_SPARSITY), s))],
        erasures=config["experiments"]["erasures"],
        erasure_control_rate=config["experiments"]["erasure_control_rate"],
        protect_properties=config["experiments"]["protect_properties"],
        probes=section_params(ProbeSettings, config["probes"]),
        probe_layers=config["probes"]["layers"],
        resamples=config["bootstrap"]["resamples"],
        level=config["bootstrap"]["level"],
        seed=config["seed"],
        on_bad_input=config["on_bad_input"],
        device=config["device"],
    script:
        "../scripts/experiments_control_effects.py"


rule experiments_pruning_figure:
    input:
        table=L.pruning_table(),
    output:
        figure=report(
            L.experiments_figure("pruning"),
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
        table=L.erasure_table(),
    output:
        figure=report(
            L.experiments_figure("erasure"),
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
