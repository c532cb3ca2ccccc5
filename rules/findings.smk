# The findings page: every claim of the four studies, the paper's number, this run's number
# with its interval and chance level, and a verdict (docs/findings.md). First in the report.
# The property counts, SAEs and dissection are those of the checkpoint the experiments use
# (experiments.checkpoint); the layer-wise analysis is read at final (reset-top: from
# trajectories.reset_top.checkpoint).


from speechneurons.findings.positive_controls import planted_runs
from speechneurons.saes.settings import SaeSettings

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
        # AND's model behaviours (findings.dissection_kinds): the phone-item tables of every
        # dissected layer; the CTC fine-tuned twin (checkpoint ctc) when dissection.ctc_twin is
        # on (else its rows say "not dissected"); the random-weights control is an optional input
        # (and_control_neurons, and_control_shared) this workflow does not produce yet.
        and_neurons=I.per_dissected_layer(L.dissection_neurons, EXPERIMENTS_CHECKPOINT),
        and_shared=I.per_dissected_layer(L.dissection_shared, EXPERIMENTS_CHECKPOINT),
        and_similarity=I.per_dissected_layer(L.dissection_similarity, EXPERIMENTS_CHECKPOINT),
        twin_neurons=I.twin_files(L.dissection_neurons),
        twin_similarity=I.twin_files(L.dissection_similarity),
        # Pasad's layer guide (findings.layer_guide): per-utterance probe errors
        probe_losses=L.trajectories_probe_losses(),
        factors_equal_steps=lambda w: L.factors_equal_steps(w.corpus) if FACTOR_STUDY else [],
        factors_heldout=lambda w: [L.heldout(w.corpus, r) for r in S.trajectory_runs()] if FACTOR_STUDY else [],
        # the random-weights dissection: the same rules on the checkpoint 'random' (a control)
        dissection_random_summary=(L.dissection_summary(checkpoint="random") if DISSECTION_RANDOM else []),
        dissection_random_agreement=(L.dissection_agreement(checkpoint="random") if DISSECTION_RANDOM else []),
        # the AND (i) control: the random-weights dissection's phone-item tables
        and_control_neurons=(I.per_dissected_layer(L.dissection_neurons, "random") if DISSECTION_RANDOM else []),
        and_control_shared=(I.per_dissected_layer(L.dissection_shared, "random") if DISSECTION_RANDOM else []),
        # the findings of this model's planted models of the config and the simulated power
        # (docs/positive-controls.md)
        power=L.power_table() if config["positive_controls"]["power"]["enabled"] else [],
        sae_control=L.sae_control_table() if config["positive_controls"]["saes"]["enabled"] else [],
        planted=lambda w: [
            L.findings_table(w.corpus, m) for m in MODELS if S.planted(m) and S.planted_base(m) == w.model
        ],
        # a planted model's own folder (its planted.json: the stated concepts of the dissection's
        # positive control, findings.planted_concepts)
        planted_model=lambda w: L.planted_model(w.corpus, w.model) if S.planted(w.model) else [],
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
        resamples=config["bootstrap"]["resamples"],
        seed=config["seed"],
        polysemantic_fraction=DISSECTION["polysemantic_fraction"],
        n_permutations=DISSECTION["n_permutations"],
        sae_k=config["saes"]["k"],
        sae_tolerance=config["saes"]["convergence_tolerance"],
        sid_unit=config["probes"]["sid_unit"],
        layers=lambda w: S.layers_of(w.model),
        num_layers=lambda w: S.num_layers(w.model),
        reset_checkpoint=lambda w: S.reset_top_checkpoint(w.model),
        factor_runs=lambda w: (
            [{"run": r, "pretrain": S.pretrain_of(r)} for r in S.trajectory_runs()] if FACTOR_STUDY else []
        ),
        positive_controls=lambda w: planted_runs(
            L, w.corpus, w.model, {m: S.models[m]["planted"] for m in MODELS if S.planted(m)}
        ),
        power_table=L.power_table(),
        sae_control_table=L.sae_control_table(),
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
        dissection=section_params(DissectionSettings, DISSECTION),
        n_pitch_bins=config["pitch"]["n_bins"],
        level=config["bootstrap"]["level"],
    script:
        "../scripts/findings_power.py"


# The SAE claims on simulated activations with a planted sparse dictionary and on its null twin
# (docs/positive-controls.md): off in the default run, on in configs/positive-controls.yaml.
if config["positive_controls"]["saes"]["enabled"]:
    ALL_TARGETS += [L.sae_control_table(), L.sae_control_saes(), L.sae_control_figure()]


rule findings_sae_control:
    output:
        table=L.sae_control_table(),
        saes=L.sae_control_saes(),
        figure=report(
            L.sae_control_figure(),
            caption="../report/sae_control.rst",
            category="1 Findings",
            subcategory="positive controls",
        ),
    log:
        L.log("positive-controls", "findings_sae_control"),
    benchmark:
        L.benchmark("positive-controls", "findings_sae_control")
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        control=config["positive_controls"]["saes"],
        # the SAE settings of the saes section (k, k_sweep, steps and expansion_factor replaced by
        # the control's), its architectures and its convergence tolerance
        saes=section_params(SaeSettings, config["saes"])
        | {key: config["saes"][key] for key in ("architectures", "convergence_tolerance")},
        seed=config["seed"],
        resamples=config["bootstrap"]["resamples"],
        level=config["bootstrap"]["level"],
    script:
        "../scripts/findings_sae_control.py"
