# The findings page: every claim of the four studies, the paper's number, this run's number
# with its interval and chance level, and a verdict (docs/findings.md). First in the report.
# The property counts, SAEs and dissection are those of the checkpoint the experiments use
# (experiments.checkpoint); the layer-wise analysis is read at final (reset-top: from
# trajectories.reset_top.checkpoint).


ALL_TARGETS += [
    L.findings_file(name, c, m)
    for c, m in PAIRS
    for name in ["findings.tsv", "findings.html"]
]


rule findings:
    input:
        summary=L.properties_file("summary.tsv", checkpoint=EXPERIMENTS_CHECKPOINT),
        replicates=per_layer("replicates.tsv", EXPERIMENTS_CHECKPOINT),
        random_weights=lambda w: (
            L.properties_file("summary.tsv", w.corpus, w.model, "random")
            if config["properties"]["random_weights_control"]
            else []
        ),
        pruning=L.experiments_file("pruning.tsv"),
        erasure=L.experiments_file("erasure.tsv"),
        control_effects=lambda w: (
            L.experiments_file("control_effects.tsv", w.corpus, w.model)
            if config["experiments"]["scored_control_draws"]
            else []
        ),
        sae_claims=L.saes_file("claims.tsv", checkpoint=EXPERIMENTS_CHECKPOINT),
        traj_findings=L.trajectories_file("findings.tsv"),
        traj_pwcca=L.trajectories_file("pwcca.tsv"),
        traj_trials=L.trajectories_file("pwcca_trials.tsv"),
        reset_top=L.trajectories_file("reset_top.tsv"),
        dissection_summary=L.dissection_file(
            "summary.tsv", checkpoint=EXPERIMENTS_CHECKPOINT
        ),
        dissection_agreement=L.dissection_file(
            "agreement.tsv", checkpoint=EXPERIMENTS_CHECKPOINT
        ),
        dissection_pruning=(
            L.dissection_file("pruning.tsv", checkpoint=EXPERIMENTS_CHECKPOINT)
            if PRUNING_ON
            else []
        ),
    output:
        table=L.findings_file("findings.tsv"),
        page=report(
            L.findings_file("findings.html"),
            caption="../report/findings.rst",
            category="1 Findings",
            subcategory="{model} on {corpus}",
        ),
    log:
        L.log("{corpus}", "findings", "{model}"),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        level=config["bootstrap"]["level"],
        sae_k=config["saes"]["k"],
        sae_tolerance=config["saes"]["convergence_tolerance"],
        layers=lambda w: layers_of(w.model),
        num_layers=lambda w: model_num_layers(w.model),
        reset_checkpoint=lambda w: reset_top_checkpoint(w.model),
        dissection_kinds=list(DISSECTION["items"]),
        pruning_families=list(DISSECTION["pruning"]["families"]),
        splits=lambda w: {
            "property_splits": config["properties"]["splits"],
            "test_fraction": CORPORA[w.corpus]["split"]["test_fraction"],
            "speaker_disjoint": CORPORA[w.corpus]["split"]["speaker_disjoint"],
            "validation_fraction": config["probes"]["validation_fraction"],
            "gender_folds": config["probes"]["gender_folds"],
        },
    script:
        "../scripts/findings.py"
