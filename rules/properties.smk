# Rules of the properties stage: phone-type, gender and pitch neurons per layer (exact
# definition in DESIGN.md), their summary over layers and their figures. tau_fraction, sigma,
# min_count, splits and the pitch bins are params of property_layer, so changing one reruns
# exactly the statistics and what follows them.


ALL_TARGETS += property_targets("final")


rule property_layer:
    input:
        mid=activation_array("mid"),
        index=activation_index_path("mid"),
    output:
        neurons=property_layer_file("neurons.json"),
        P=property_layer_file("P.npz"),
        R=property_layer_file("R.parquet"),
        counts=property_layer_file("counts.tsv"),
        skipped=property_layer_file("skipped.tsv"),
    log:
        properties_log("layer-{layer}"),
    benchmark:
        properties_log("layer-{layer}", kind="benchmarks", ext="tsv")
    wildcard_constraints:
        layer=r"\d+",
        checkpoint=r"final|step-\d+",
    conda:
        "../envs/speechneurons.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        layer=lambda wildcards: int(wildcards.layer),
        tau_fraction=config["properties"]["tau_fraction"],
        sigma=config["properties"]["sigma"],
        min_count=config["properties"]["min_count"],
        splits=config["properties"]["splits"],
        n_pitch_bins=config["pitch"]["n_bins"],
        on_bad_input=config["on_bad_input"],
    script:
        "../scripts/properties_layer.py"


rule property_summary:
    input:
        neurons=property_layer_inputs("neurons.json"),
        counts=property_layer_inputs("counts.tsv"),
    output:
        summary=properties_file("summary.tsv"),
    log:
        properties_log("summary"),
    wildcard_constraints:
        checkpoint=r"final|step-\d+",
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/properties_summary.py"


rule property_layer_figures:
    input:
        summary=properties_file("summary.tsv"),
    output:
        counts=report(
            properties_file("figures/counts_per_layer.png"),
            caption="../report/properties/counts_per_layer.rst",
            category="Property neurons",
        ),
        overlaps=report(
            properties_file("figures/overlaps_per_layer.png"),
            caption="../report/properties/overlaps_per_layer.rst",
            category="Property neurons",
        ),
    log:
        properties_log("layer_figures"),
    wildcard_constraints:
        checkpoint=r"final|step-\d+",
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        title=lambda wildcards: f"{wildcards.model} ({wildcards.checkpoint}) on {corpus_name()}",
    script:
        "../scripts/properties_layer_figures.py"


rule property_venn:
    input:
        neurons=property_layer_file("neurons.json"),
    output:
        venn=report(
            properties_file("figures/venn_layer-{layer}.png"),
            caption="../report/properties/venn.rst",
            category="Property neurons",
            subcategory="Venn diagrams",
        ),
    log:
        properties_log("venn_layer-{layer}"),
    wildcard_constraints:
        layer=r"\d+",
        checkpoint=r"final|step-\d+",
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/properties_venn.py"


rule property_heatmap:
    input:
        neurons=property_layer_file("neurons.json"),
        P=property_layer_file("P.npz"),
        R=property_layer_file("R.parquet"),
        counts=property_layer_file("counts.tsv"),
    output:
        heatmap=report(
            properties_file("figures/heatmap_layer-{layer}.png"),
            caption="../report/properties/heatmap.rst",
            category="Property neurons",
            subcategory="P(j | c, g) heat maps",
        ),
    log:
        properties_log("heatmap_layer-{layer}"),
    wildcard_constraints:
        layer=r"\d+",
        checkpoint=r"final|step-\d+",
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
