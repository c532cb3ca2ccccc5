# The SAE stage: sparse autoencoders (TopK, mutual choice, feature choice with uniform and Zipf
# capacities) on the FFN activations of chosen layers, trained on the train rows of the dump's
# `sample` frames and evaluated on its test rows; the property statistic run unchanged on their
# latents; the SAEs spliced into the model (probes, masked-prediction loss) and property latents
# erased beside property neurons (docs/saes.md). One job per (layer, architecture) trains every
# budget of that layer, evaluates it and runs the statistic; one job scores all spliced and
# erased variants with the probes (each utterance's front-end once); a summary job writes the
# tables and figures.
#
# Outputs under results/<corpus>/saes/<model>/<checkpoint>/ (speechneurons.layout):
#   layer-<L>/<arch>/k-<k>/, sweep/k-<k>/          the SAEs (sae.safetensors, settings.json)
#   layer-<L>/<arch>/evaluation.tsv, evaluation.npz, train_log.tsv
#   layer-<L>/<arch>/latents.json, P.npz, R.parquet, counts.tsv, skipped.tsv, null.tsv
#   probes/losses.parquet, probes/variants.json, splice.tsv, erasure.tsv, masked_prediction.tsv
#   evaluation.tsv, claims.tsv, units.tsv, features_vs_neurons.tsv, figures/*.png
from speechneurons.properties.nulls import NullSettings
from speechneurons.probing.probes import ProbeSettings
from speechneurons.properties.statistic import PropertySettings
from speechneurons.saes.settings import SaeSettings

SAE_FIGURES = ["fvu_vs_l0", "dead_share", "density_rank", "l0_distributions", "units"]
SAE_TABLES = ["evaluation.tsv", "claims.tsv", "units.tsv", "features_vs_neurons.tsv"]

ALL_TARGETS += [
    L.saes_file(name, c, m, EXPERIMENTS_CHECKPOINT)
    for c, m in PAIRS
    for name in SAE_TABLES + [f"figures/{f}.png" for f in SAE_FIGURES]
]
SAE_BOOTSTRAP = dict(
    resamples=config["bootstrap"]["resamples"],
    level=config["bootstrap"]["level"],
    seed=config["seed"],
)


rule sae_layer:
    input:
        sample=L.activation_array("sample"),
        index_sample=L.activation_index("sample"),
        mid=L.activation_array("mid"),
        index_mid=L.activation_index("mid"),
    output:
        sae=directory(L.sae_model(config["saes"]["k"])),
        sweep=directory(L.sae_file("sweep")),
        evaluation=L.sae_file("evaluation.tsv"),
        sums=L.sae_file("evaluation.npz"),
        train_log=L.sae_file("train_log.tsv"),
        latents=L.sae_file("latents.json"),
        P=L.sae_file("P.npz"),
        R=L.sae_file("R.parquet"),
        counts=L.sae_file("counts.tsv"),
        skipped=L.sae_file("skipped.tsv"),
        null=L.sae_file("null.tsv"),
    log:
        L.log("{corpus}", "saes", "{model}", "{checkpoint}", "layer-{layer}", "{arch}"),
    benchmark:
        L.benchmark(
            "{corpus}", "saes", "{model}", "{checkpoint}", "layer-{layer}", "{arch}"
        )
    conda:
        "../envs/speechneurons.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
    params:
        settings=section_params(SaeSettings, config["saes"]),
        ks=lambda w: sae_plan_of(w.model).ks(int(w.layer)),
        sweep=lambda w: [
            L.sae_sweep_model(k, w.layer, w.arch, w.corpus, w.model, w.checkpoint)
            for k in sae_plan_of(w.model).ks(int(w.layer))[1:]
        ],
        max_eval_rows=config["saes"]["max_eval_rows"],
        properties=section_params(PropertySettings, config["properties"]),
        nulls=section_params(NullSettings, config["properties"]),
        n_pitch_bins=config["pitch"]["n_bins"],
        on_bad_input=config["on_bad_input"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/saes_layer.py"


rule sae_probes:
    input:
        model=checkpoint_input,
        manifest=L.manifest(),
        frames=L.experiments_file("probes/frames.parquet"),
        utterances=L.experiments_file("probes/utterances.parquet"),
        best=L.experiments_file("probes/best_layers.json"),
        saes=sae_models(),
        latents=sae_files("latents.json", SAE_ERASURE_ARCHS, "splice_layers"),
        latent_P=sae_files("P.npz", SAE_ERASURE_ARCHS, "splice_layers"),
        neurons=lambda w: [
            L.property_layer_file("neurons.json", l, w.corpus, w.model, w.checkpoint)
            for l in sae_plan_of(w.model).splice_layers
        ],
        neuron_P=lambda w: [
            L.property_layer_file("P.npz", l, w.corpus, w.model, w.checkpoint)
            for l in sae_plan_of(w.model).splice_layers
        ],
    output:
        losses=L.saes_file("probes/losses.parquet"),
        variants=L.saes_file("probes/variants.json"),
        splice=L.saes_file("splice.tsv"),
        erasure=L.saes_file("erasure.tsv"),
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
        model_ref=checkpoint_ref,
        splice_layers=lambda w: list(sae_plan_of(w.model).splice_layers),
        architectures=SAE_ARCHS,
        erasure_architectures=SAE_ERASURE_ARCHS,
        erasures=config["saes"]["erasures"],
        rate_bins=config["experiments"]["rate_bins"],
        probe_utterances=config["saes"]["probe_utterances"],
        probes=section_params(ProbeSettings, config["probes"]),
        probe_layers=config["probes"]["layers"],
        on_bad_input=config["on_bad_input"],
        device=config["device"],
    script:
        "../scripts/saes_probes.py"


rule sae_masked_prediction:
    input:
        model=checkpoint_input,
        manifest=L.manifest(),
        targets=checkpoint_targets,
        saes=sae_models(),
    output:
        table=L.saes_file("masked_prediction.tsv"),
    log:
        L.log("{corpus}", "saes", "{model}", "{checkpoint}", "masked_prediction"),
    benchmark:
        L.benchmark("{corpus}", "saes", "{model}", "{checkpoint}", "masked_prediction")
    wildcard_constraints:
        model=one_of(m for m in MODELS if pretrained(m)),
    conda:
        "../envs/speechneurons.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
    params:
        **SAE_BOOTSTRAP,
        model_ref=checkpoint_ref,
        splice_layers=lambda w: list(sae_plan_of(w.model).splice_layers),
        architectures=SAE_ARCHS,
        splits=pretrain_setting("splits"),
        heldout_utterances=pretrain_setting("heldout_utterances"),
        mask_prob=pretrain_setting("mask_prob"),
        mask_length=pretrain_setting("mask_length"),
        frames=config["frames"],
        on_bad_input=config["on_bad_input"],
        device=config["device"],
    script:
        "../scripts/saes_masked_prediction.py"


rule sae_summary:
    input:
        evaluations=sae_files("evaluation.tsv"),
        sums=sae_files("evaluation.npz"),
        train_logs=sae_files("train_log.tsv"),
        latents=sae_files("latents.json"),
        R=sae_files("R.parquet"),
        nulls=sae_files("null.tsv"),
        neurons=lambda w: [
            L.property_layer_file("neurons.json", l, w.corpus, w.model, w.checkpoint)
            for l in sae_plan_of(w.model).layers
        ],
        neuron_R=lambda w: [
            L.property_layer_file("R.parquet", l, w.corpus, w.model, w.checkpoint)
            for l in sae_plan_of(w.model).layers
        ],
        neuron_nulls=lambda w: [
            L.property_layer_file("null.tsv", l, w.corpus, w.model, w.checkpoint)
            for l in sae_plan_of(w.model).layers
        ],
        splice=L.saes_file("splice.tsv"),
        erasure=L.saes_file("erasure.tsv"),
        masked=sae_masked_prediction,
    output:
        evaluation=L.saes_file("evaluation.tsv"),
        claims=L.saes_file("claims.tsv"),
        units=L.saes_file("units.tsv"),
        features_vs_neurons=L.saes_file("features_vs_neurons.tsv"),
        fvu_vs_l0=report(
            L.saes_file("figures/fvu_vs_l0.png"),
            caption="../report/saes/fvu_vs_l0.rst",
            category="Sparse autoencoders",
        ),
        dead_share=report(
            L.saes_file("figures/dead_share.png"),
            caption="../report/saes/dead_share.rst",
            category="Sparse autoencoders",
        ),
        density_rank=report(
            L.saes_file("figures/density_rank.png"),
            caption="../report/saes/density_rank.rst",
            category="Sparse autoencoders",
        ),
        l0_distributions=report(
            L.saes_file("figures/l0_distributions.png"),
            caption="../report/saes/l0_distributions.rst",
            category="Sparse autoencoders",
        ),
        units_figure=report(
            L.saes_file("figures/units.png"),
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
        sae_keys=lambda w: [
            (l, a, sae_plan_of(w.model).ks(l))
            for l in sae_plan_of(w.model).layers
            for a in SAE_ARCHS
        ],
        k=config["saes"]["k"],
        sweep_layers=lambda w: list(sae_plan_of(w.model).sweep_layers),
        splice_layers=lambda w: list(sae_plan_of(w.model).splice_layers),
        erasures=config["saes"]["erasures"],
        sigma=config["properties"]["sigma"],
        title=lambda w: f"{w.model} ({w.checkpoint}) on {w.corpus}",
    script:
        "../scripts/saes_summary.py"
