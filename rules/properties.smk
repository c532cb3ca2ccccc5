# The properties stage: phone-type, gender and pitch neurons per layer (definition in
# docs/property-neurons.md), their summary over layers and their figures. The statistic reads
# only the keys of PropertySettings and pitch.n_bins, so changing one reruns exactly the
# statistics and what follows them.
from speechneurons.properties.chance import ChanceSettings
from speechneurons.properties.nulls import NullSettings
from speechneurons.properties.statistic import PropertySettings
from speechneurons.properties.tables import figure_layers

ALL_TARGETS += [L.properties_summary(c, m, r) for c, m in PAIRS for r in S.random_weights()]
ALL_TARGETS += [
    path
    for c, m in PAIRS
    for path in [
        L.properties_summary(c, m, "final"),
        L.properties_figure("counts_per_layer", c, m, "final"),
        L.properties_figure("overlaps_per_layer", c, m, "final"),
        *(
            L.properties_figure(f"{kind}_layer-{l}", c, m, "final")
            for l in figure_layers(config["properties"]["venn_layers"], S.layers_of(m))
            for kind in ("venn", "heatmap")
        ),
    ]
]


rule properties_layer:
    input:
        mid=L.activation_array("mid"),
        index=L.activation_index("mid"),
    output:
        neurons=L.property_neurons(),
        P=L.property_P(),
        R=L.property_R(),
        counts=L.property_counts(),
        skipped=L.property_skipped(),
        null=L.property_null(),
        replicates=L.property_replicates(),
        sensitivity=L.property_sensitivity(),
        silhouette=L.property_silhouette(),
        binning=L.property_pitch_binning(),
    log:
        L.log("{corpus}", "properties", "{model}", "{checkpoint}", "layer-{layer}"),
    benchmark:
        L.benchmark("{corpus}", "properties", "{model}", "{checkpoint}", "layer-{layer}")
    conda:
        "../envs/speechneurons.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        layer=lambda w: int(w.layer),
        device=config["device"],
        chunk_rows=config["properties"]["chunk_rows"],
        settings=section_params(PropertySettings, config["properties"]),
        chance=section_params(ChanceSettings, config["properties"]),
        nulls=section_params(NullSettings, config["properties"]),
        seed=config["seed"],
        n_pitch_bins=config["pitch"]["n_bins"],
        binning=config["pitch"]["binning"],
        on_bad_input=config["on_bad_input"],
    script:
        "../scripts/properties_layer.py"


rule properties_summary:
    input:
        neurons=I.per_layer(L.property_neurons),
        counts=I.per_layer(L.property_counts),
        replicates=I.per_layer(L.property_replicates),
        silhouette=I.per_layer(L.property_silhouette),
        binning=I.per_layer(L.property_pitch_binning),
        random_weights=lambda w: (
            [L.properties_summary(w.corpus, w.model, r) for r in S.random_weights()]
            if not is_random(w.checkpoint)
            else []
        ),
    output:
        summary=L.properties_summary(),
    log:
        L.log("{corpus}", "properties", "{model}", "{checkpoint}", "summary"),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        level=config["bootstrap"]["level"],
    script:
        "../scripts/properties_summary.py"


rule properties_layer_figures:
    input:
        summary=L.properties_summary(),
        random_weights=lambda w: (
            [L.properties_summary(w.corpus, w.model, r) for r in S.random_weights()]
            if not is_random(w.checkpoint)
            else []
        ),
    output:
        counts=report(
            L.properties_figure("counts_per_layer"),
            caption="../report/properties/counts_per_layer.rst",
            category="Property neurons",
        ),
        overlaps=report(
            L.properties_figure("overlaps_per_layer"),
            caption="../report/properties/overlaps_per_layer.rst",
            category="Property neurons",
        ),
    log:
        L.log("{corpus}", "properties", "{model}", "{checkpoint}", "layer_figures"),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        title=lambda w: f"{w.model} ({w.checkpoint}) on {w.corpus}",
    script:
        "../scripts/properties_layer_figures.py"


rule properties_venn:
    input:
        neurons=L.property_neurons(),
    output:
        venn=report(
            L.properties_figure("venn_layer-{layer}"),
            caption="../report/properties/venn.rst",
            category="Property neurons",
            subcategory="Venn diagrams",
        ),
    log:
        L.log("{corpus}", "properties", "{model}", "{checkpoint}", "venn_layer-{layer}"),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/properties_venn.py"


rule properties_heatmap:
    input:
        neurons=L.property_neurons(),
        P=L.property_P(),
        R=L.property_R(),
        counts=L.property_counts(),
    output:
        heatmap=report(
            L.properties_figure("heatmap_layer-{layer}"),
            caption="../report/properties/heatmap.rst",
            category="Property neurons",
            subcategory="P(j | c, g) heat maps",
        ),
    log:
        L.log(
            "{corpus}",
            "properties",
            "{model}",
            "{checkpoint}",
            "heatmap_layer-{layer}",
        ),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        n_neurons=config["properties"]["heatmap_neurons"],
        n_pitch_bins=config["pitch"]["n_bins"],
    script:
        "../scripts/properties_heatmap.py"
