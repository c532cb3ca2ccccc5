# The SAE stage: sparse autoencoders (TopK, mutual choice, feature choice with uniform and Zipf
# capacities) on the FFN activations of chosen layers, trained on the train rows of the dump's
# `sample` frames and evaluated on its test rows; the property statistic run unchanged on their
# latents; the SAEs spliced into the model (probes, masked-prediction loss) and property latents
# erased beside property neurons (docs/saes.md). One job per (layer, architecture) trains every
# budget of that layer, evaluates it and runs the statistic; one job scores all spliced and
# erased variants with the probes (each utterance's front-end once); a summary job writes the
# tables and figures.
#
# Outputs: docs/outputs.md (paths from speechneurons.layout).
from speechneurons.probing.probes import ProbeSettings
from speechneurons.properties.nulls import NullSettings
from speechneurons.properties.statistic import PropertySettings
from speechneurons.frames import FrameGrid
from speechneurons.saes.settings import SaeSettings

SAE_ARCHS = config["saes"]["architectures"]
SAE_ERASURE_ARCHS = config["saes"]["erasure_architectures"]


SAE_FIGURES = ["fvu_vs_l0", "dead_share", "density_rank", "l0_distributions", "l0_by_frame", "units"]
SAE_TABLES = [L.saes_evaluation, L.saes_claims, L.saes_units, L.saes_features_vs_neurons, L.saes_l0_by_frame]

ALL_TARGETS += [
    path
    for c, m in PAIRS
    for path in [f(c, m, EXPERIMENTS_CHECKPOINT) for f in SAE_TABLES]
    + [L.saes_figure(f, c, m, EXPERIMENTS_CHECKPOINT) for f in SAE_FIGURES]
]
SAE_BOOTSTRAP = dict(
    resamples=config["bootstrap"]["resamples"],
    level=config["bootstrap"]["level"],
    seed=config["seed"],
)


rule saes_layer:
    input:
        sample=L.activation_array("sample"),
        index_sample=L.activation_index("sample"),
        mid=L.activation_array("mid"),
        index_mid=L.activation_index("mid"),
    output:
        sae=directory(L.sae_model(config["saes"]["k"])),
        sweep=directory(L.sae_sweep()),
        evaluation=L.sae_evaluation(),
        sums=L.sae_sums(),
        train_log=L.sae_train_log(),
        latents=L.sae_latents(),
        P=L.sae_P(),
        R=L.sae_R(),
        counts=L.sae_counts(),
        skipped=L.sae_skipped(),
        null=L.sae_null(),
    log:
        L.log("{corpus}", "saes", "{model}", "{checkpoint}", "layer-{layer}", "{arch}"),
    benchmark:
        L.benchmark("{corpus}", "saes", "{model}", "{checkpoint}", "layer-{layer}", "{arch}")
    conda:
        "../envs/speechneurons.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
    params:
        layer=lambda w: int(w.layer),
        arch=lambda w: w.arch,
        settings=section_params(SaeSettings, config["saes"]),
        ks=lambda w: S.sae_plan(w.model).ks(int(w.layer), w.arch),
        # the sweep's other budgets are saved only with keep_intermediates (nothing reads them:
        # their evaluation is in evaluation.npz); the folder stays, empty
        sweep=lambda w: (
            [
                L.sae_sweep_model(k, w.layer, w.arch, w.corpus, w.model, w.checkpoint)
                for k in S.sae_plan(w.model).ks(int(w.layer), w.arch)[1:]
            ]
            if config["keep_intermediates"]
            else []
        ),
        max_eval_rows=config["saes"]["max_eval_rows"],
        properties=section_params(PropertySettings, config["properties"]),
        nulls=section_params(NullSettings, config["properties"]),
        n_pitch_bins=config["pitch"]["n_bins"],
        on_bad_input=config["on_bad_input"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/saes_layer.py"


rule saes_probes:
    input:
        model=I.checkpoint_input,
        manifest=L.manifest(),
        frames=L.probe_frames(),
        utterances=L.probe_utterances(),
        best=L.best_layers(),
        saes=I.sae_models(),
        latents=I.sae_files(L.sae_latents, SAE_ERASURE_ARCHS, "splice_layers"),
        latent_P=I.sae_files(L.sae_P, SAE_ERASURE_ARCHS, "splice_layers"),
        neurons=lambda w: [
            L.property_neurons(l, w.corpus, w.model, w.checkpoint) for l in S.sae_plan(w.model).splice_layers
        ],
        neuron_P=lambda w: [L.property_P(l, w.corpus, w.model, w.checkpoint) for l in S.sae_plan(w.model).splice_layers],
    output:
        losses=L.saes_probe_losses(),
        variants=L.saes_probe_variants(),
        splice=L.saes_splice(),
        erasure=L.saes_erasure(),
    log:
        L.log("{corpus}", "saes", "{model}", "{checkpoint}", "probes"),
    benchmark:
        L.benchmark("{corpus}", "saes", "{model}", "{checkpoint}", "probes")
    conda:
        "../envs/speechneurons.yaml"
    threads: 2
    resources:
        mem_mb=6000,
        runtime=120,
        gpu=GPU,
    params:
        **SAE_BOOTSTRAP,
        batching=BATCHING,
        model_ref=I.checkpoint_ref,
        splice_layers=lambda w: list(S.sae_plan(w.model).splice_layers),
        architectures=SAE_ARCHS,
        erasure_architectures=SAE_ERASURE_ARCHS,
        erasures=config["saes"]["erasures"],
        match_neighbours=config["experiments"]["match_neighbours"],
        balance_ks=config["experiments"]["balance_ks"],
        erasure_control_rate=config["experiments"]["erasure_control_rate"],
        probe_utterances=config["saes"]["probe_utterances"],
        probes=section_params(ProbeSettings, config["probes"]),
        probe_layers=config["probes"]["layers"],
        on_bad_input=config["on_bad_input"],
        device=config["device"],
    script:
        "../scripts/saes_probes.py"


rule saes_masked_prediction:
    input:
        model=I.checkpoint_input,
        manifest=L.manifest(),
        targets=I.checkpoint_targets,
        saes=I.sae_models(),
    output:
        table=L.saes_masked_prediction(),
    log:
        L.log("{corpus}", "saes", "{model}", "{checkpoint}", "masked_prediction"),
    benchmark:
        L.benchmark("{corpus}", "saes", "{model}", "{checkpoint}", "masked_prediction")
    wildcard_constraints:
        model=one_of(m for m in MODELS if S.pretrained(m)),
    conda:
        "../envs/speechneurons.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
    params:
        **SAE_BOOTSTRAP,
        model_ref=I.checkpoint_ref,
        splice_layers=lambda w: list(S.sae_plan(w.model).splice_layers),
        architectures=SAE_ARCHS,
        splits=I.pretrain_setting("splits"),
        heldout_utterances=I.pretrain_setting("heldout_utterances"),
        mask_prob=I.pretrain_setting("mask_prob"),
        mask_length=I.pretrain_setting("mask_length"),
        frames=config["frames"],
        on_bad_input=config["on_bad_input"],
        device=config["device"],
    script:
        "../scripts/saes_masked_prediction.py"


rule saes_summary:
    input:
        evaluations=I.sae_files(L.sae_evaluation),
        sums=I.sae_files(L.sae_sums),
        train_logs=I.sae_files(L.sae_train_log),
        latents=I.sae_files(L.sae_latents),
        R=I.sae_files(L.sae_R),
        nulls=I.sae_files(L.sae_null),
        neurons=lambda w: [L.property_neurons(l, w.corpus, w.model, w.checkpoint) for l in S.sae_plan(w.model).layers],
        neuron_R=lambda w: [L.property_R(l, w.corpus, w.model, w.checkpoint) for l in S.sae_plan(w.model).layers],
        neuron_nulls=lambda w: [L.property_null(l, w.corpus, w.model, w.checkpoint) for l in S.sae_plan(w.model).layers],
        splice=L.saes_splice(),
        erasure=L.saes_erasure(),
        masked=I.sae_masked_prediction,
        index_sample=L.activation_index("sample"),
        labels=L.frame_labels(aligner=ALIGNER),
    output:
        evaluation=L.saes_evaluation(),
        claims=L.saes_claims(),
        l0_by_frame=L.saes_l0_by_frame(),
        units=L.saes_units(),
        features_vs_neurons=L.saes_features_vs_neurons(),
        fvu_vs_l0=report(
            L.saes_figure("fvu_vs_l0"),
            caption="../report/saes/fvu_vs_l0.rst",
            category="Sparse autoencoders",
        ),
        dead_share=report(
            L.saes_figure("dead_share"),
            caption="../report/saes/dead_share.rst",
            category="Sparse autoencoders",
        ),
        density_rank=report(
            L.saes_figure("density_rank"),
            caption="../report/saes/density_rank.rst",
            category="Sparse autoencoders",
        ),
        l0_distributions=report(
            L.saes_figure("l0_distributions"),
            caption="../report/saes/l0_distributions.rst",
            category="Sparse autoencoders",
        ),
        l0_by_frame_figure=report(
            L.saes_figure("l0_by_frame"),
            caption="../report/saes/l0_by_frame.rst",
            category="Sparse autoencoders",
        ),
        units_figure=report(
            L.saes_figure("units"),
            caption="../report/saes/units.rst",
            category="Sparse autoencoders",
        ),
    log:
        L.log("{corpus}", "saes", "{model}", "{checkpoint}", "summary"),
    benchmark:
        L.benchmark("{corpus}", "saes", "{model}", "{checkpoint}", "summary")
    conda:
        "../envs/speechneurons.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        **SAE_BOOTSTRAP,
        sae_keys=lambda w: [(l, a, S.sae_plan(w.model).ks(l, a)) for l in S.sae_plan(w.model).layers for a in SAE_ARCHS],
        k=config["saes"]["k"],
        splice_layers=lambda w: list(S.sae_plan(w.model).splice_layers),
        erasures=config["saes"]["erasures"],
        sigma=config["properties"]["sigma"],
        frame_ms=1000 * FrameGrid.from_config(config["frames"]).frame_shift_s,
        title=lambda w: f"{w.model} ({w.checkpoint}) on {w.corpus}",
    script:
        "../scripts/saes_summary.py"
