# The findings page: every claim of the four studies, the paper's number, this run's number
# with its interval and chance level, and a verdict (docs/findings.md). First in the report.
# The property counts, SAEs and dissection are those of the checkpoint the experiments use
# (experiments.checkpoint); the layer-wise analysis is read at final (reset-top: from
# trajectories.reset_top.checkpoint).


from speechneurons.findings.positive_controls import planted_runs

ALL_TARGETS += [f(c, m) for c, m in PAIRS for f in (L.findings_table, L.findings_page)]


rule findings:
    input:
        summary=L.properties_summary(checkpoint=EXPERIMENTS_CHECKPOINT),
        replicates=I.per_layer(L.property_replicates, EXPERIMENTS_CHECKPOINT),
        random_weights=lambda w: (
            L.properties_summary(w.corpus, w.model, "random") if config["properties"]["random_weights_control"] else []
        ),
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
        # the findings of this model's planted models of the config and the simulated power
        # (docs/positive-controls.md)
        power=L.power_table() if config["positive_controls"]["power"]["enabled"] else [],
        planted=lambda w: [
            L.findings_table(w.corpus, m) for m in MODELS if S.planted(m) and S.planted_base(m) == w.model
        ],
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
        positive_controls=lambda w: planted_runs(
            L, w.corpus, w.model, {m: S.models[m]["planted"] for m in MODELS if S.planted(m)}
        ),
        power_table=L.power_table(),
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


# The power of the property-neuron claims on simulated runs with planted units
# (docs/positive-controls.md): off in the default run, on in configs/positive-controls.yaml.
if config["positive_controls"]["power"]["enabled"]:
    ALL_TARGETS += [L.power_table(), L.power_figure()]


rule findings_power:
    output:
        table=L.power_table(),
        figure=report(
            L.power_figure(),
            caption="../report/power.rst",
            category="1 Findings",
            subcategory="positive controls",
        ),
    log:
        L.log("positive-controls", "findings_power"),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        power=config["positive_controls"]["power"],
        properties=section_params(PropertySettings, config["properties"]),
        n_pitch_bins=config["pitch"]["n_bins"],
        level=config["bootstrap"]["level"],
    script:
        "../scripts/findings_power.py"
