# The properties stage: phone-type, gender and pitch neurons per layer (definition in
# docs/property-neurons.md), their summary over layers and their figures. The statistic reads
# only the keys of PropertySettings and pitch.n_bins, so changing one reruns exactly the
# statistics and what follows them.
from speechneurons.properties.chance import ChanceSettings
from speechneurons.properties.statistic import PropertySettings
from speechneurons.properties.tables import figure_layers

ALL_TARGETS += [
    L.properties_file("summary.tsv", c, m, "random") for c, m in PAIRS if config["properties"]["random_weights_control"]
]
ALL_TARGETS += [
    L.properties_file(name, c, m, "final")
    for c, m in PAIRS
    for name in [
        "summary.tsv",
        "figures/counts_per_layer.png",
        "figures/overlaps_per_layer.png",
        *(
            f"figures/{kind}_layer-{l}.png"
            for l in figure_layers(config["properties"]["venn_layers"], S.layers_of(m))
            for kind in ("venn", "heatmap")
        ),
    ]
]


rule property_layer:
    input:
        mid=L.activation_array("mid"),
        index=L.activation_index("mid"),
    output:
        neurons=L.property_layer_file("neurons.json"),
        P=L.property_layer_file("P.npz"),
        R=L.property_layer_file("R.parquet"),
        counts=L.property_layer_file("counts.tsv"),
        skipped=L.property_layer_file("skipped.tsv"),
        null=L.property_layer_file("null.tsv"),
        replicates=L.property_layer_file("replicates.tsv"),
        sensitivity=L.property_layer_file("sensitivity.tsv"),
        silhouette=L.property_layer_file("silhouette.json"),
        binning=L.property_layer_file("pitch_binning.tsv"),
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
        seed=config["seed"],
        n_pitch_bins=config["pitch"]["n_bins"],
        binning=config["pitch"]["binning"],
        on_bad_input=config["on_bad_input"],
    script:
        "../scripts/properties_layer.py"


rule property_summary:
    input:
        neurons=I.per_layer("neurons.json"),
        counts=I.per_layer("counts.tsv"),
        replicates=I.per_layer("replicates.tsv"),
        silhouette=I.per_layer("silhouette.json"),
        binning=I.per_layer("pitch_binning.tsv"),
    output:
        summary=L.properties_file("summary.tsv"),
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


rule property_layer_figures:
    input:
        summary=L.properties_file("summary.tsv"),
        random_weights=lambda w: (
            L.properties_file("summary.tsv", w.corpus, w.model, "random")
            if config["properties"]["random_weights_control"] and w.checkpoint != "random"
            else []
        ),
    output:
        counts=report(
            L.properties_file("figures/counts_per_layer.png"),
            caption="../report/properties/counts_per_layer.rst",
            category="Property neurons",
        ),
        overlaps=report(
            L.properties_file("figures/overlaps_per_layer.png"),
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


rule property_venn:
    input:
        neurons=L.property_layer_file("neurons.json"),
    output:
        venn=report(
            L.properties_file("figures/venn_layer-{layer}.png"),
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


rule property_heatmap:
    input:
        neurons=L.property_layer_file("neurons.json"),
        P=L.property_layer_file("P.npz"),
        R=L.property_layer_file("R.parquet"),
        counts=L.property_layer_file("counts.tsv"),
    output:
        heatmap=report(
            L.properties_file("figures/heatmap_layer-{layer}.png"),
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
