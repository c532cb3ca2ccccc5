# The findings page: every claim of the four studies, the paper's number, this run's number
# with its interval and chance level, and a verdict (docs/findings.md). First in the report.
# The property counts, SAEs and dissection are those of the checkpoint the experiments use
# (experiments.checkpoint); the layer-wise analysis is read at final (reset-top: from
# trajectories.reset_top.checkpoint).


ALL_TARGETS += [f(c, m) for c, m in PAIRS for f in (L.findings_table, L.findings_page)]


rule findings:
    input:
        summary=L.properties_summary(checkpoint=EXPERIMENTS_CHECKPOINT),
        replicates=I.per_layer(L.property_replicates, EXPERIMENTS_CHECKPOINT),
        random_weights=lambda w: [L.properties_summary(w.corpus, w.model, r) for r in S.random_weights()],
        pruning=L.pruning_table(),
        erasure=L.erasure_table(),
        control_effects=L.control_effects() if config["experiments"]["scored_control_draws"] else [],
        sae_claims=L.saes_claims(checkpoint=EXPERIMENTS_CHECKPOINT),
        traj_findings=L.trajectories_findings(),
        traj_pwcca=L.trajectories_pwcca(),
        traj_trials=L.trajectories_pwcca_trials(),
        reset_top=L.trajectories_reset_top(),
        dissection_summary=L.dissection_summary(checkpoint=EXPERIMENTS_CHECKPOINT),
        dissection_agreement=L.dissection_agreement(checkpoint=EXPERIMENTS_CHECKPOINT),
        dissection_pruning=(L.dissection_pruning(checkpoint=EXPERIMENTS_CHECKPOINT) if PRUNING_ON else []),
        # the random-weights dissection: the same rules on the checkpoint 'random' (a control)
        dissection_random_summary=(L.dissection_summary(checkpoint="random") if DISSECTION_RANDOM else []),
        dissection_random_agreement=(L.dissection_agreement(checkpoint="random") if DISSECTION_RANDOM else []),
    output:
        table=L.findings_table(),
        page=report(
            L.findings_page(),
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
        corpus=lambda w: w.corpus,
        model=lambda w: w.model,
        level=config["bootstrap"]["level"],
        sae_k=config["saes"]["k"],
        sae_tolerance=config["saes"]["convergence_tolerance"],
        layers=lambda w: S.layers_of(w.model),
        num_layers=lambda w: S.num_layers(w.model),
        reset_checkpoint=lambda w: S.reset_top_checkpoint(w.model),
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
