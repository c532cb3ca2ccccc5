# The dissection stage (docs/network-dissection.md, after AND, Wu et al., ICML 2024): every FFN
# neuron of every dissected layer described in words from the items that excite it most and
# least, its top concepts, their agreement with the property neurons against shuffled labels,
# concept-specific pruning against a matched random control, and a browser of neuron cards with
# playable snippets. Items and descriptions are chosen on dissection.splits (train); agreement
# and pruning are scored on the held-out (test) items.
#
# Outputs under results/<corpus>/dissection/<model>/<checkpoint>/ (speechneurons.layout):
#   items/{phone,utterance}.{parquet,json}    the items, their attributes and captions
#   layer-<L>/neurons.tsv, shared.tsv, similarity.npz, agreement.tsv, summary.json
#   summary.tsv, agreement.tsv, pruning.tsv, pruning_sets.json
#   figures/{uninterpretable,agreement,pruning}.png, browser.html (the neuron cards, snippets inside)
from speechneurons.dissection.settings import (
    BrowserSettings,
    DissectionSettings,
    ItemSettings,
    LLMSettings,
    PruningSettings,
)
from speechneurons.experiments.features import FrameSettings
from speechneurons.experiments.probes import ProbeSettings

DISSECTION = config["dissection"]
PRUNING_ON = bool(DISSECTION["pruning"]["families"])
ALL_TARGETS += [
    L.dissection_file(name, c, m, "final")
    for c, m in PAIRS
    for name in [
        "summary.tsv",
        "agreement.tsv",
        "figures/uninterpretable.png",
        "figures/agreement.png",
        "browser.html",
        *(["pruning.tsv", "figures/pruning.png"] if PRUNING_ON else []),
    ]
]
DISSECTION_ITEMS = {
    f"{kind}_{ext}": L.dissection_items(f"{kind}.{suffix}")
    for kind in ("phone", "utterance")
    for ext, suffix in (("table", "parquet"), ("meta", "json"))
}


rule dissection_items:
    input:
        index=L.activation_index("mid"),
        labels=L.labels_file("frame_labels.parquet", aligner=ALIGNER),
        pitch=L.pitch_file("pitch_frames.parquet"),
        manifest=L.manifest(),
    output:
        **DISSECTION_ITEMS,
    log:
        L.log("{corpus}", "dissection", "{model}", "{checkpoint}", "items"),
    benchmark:
        L.benchmark("{corpus}", "dissection", "{model}", "{checkpoint}", "items")
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        settings=section_params(ItemSettings, DISSECTION),
        n_pitch_bins=config["pitch"]["n_bins"],
        frames=config["frames"],
    script:
        "../scripts/dissection_items.py"


rule dissection_layer:
    input:
        **DISSECTION_ITEMS,
        mid=L.activation_array("mid"),
        neurons=L.property_layer_file("neurons.json"),
    output:
        neurons=L.dissection_layer_file("neurons.tsv"),
        shared=L.dissection_layer_file("shared.tsv"),
        similarity=L.dissection_layer_file("similarity.npz"),
        agreement=L.dissection_layer_file("agreement.tsv"),
        summary=L.dissection_layer_file("summary.json"),
    log:
        L.log("{corpus}", "dissection", "{model}", "{checkpoint}", "layer-{layer}"),
    benchmark:
        L.benchmark("{corpus}", "dissection", "{model}", "{checkpoint}", "layer-{layer}")
    conda:
        "../envs/speechneurons.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    params:
        layer=lambda w: int(w.layer),
        settings=section_params(DissectionSettings, DISSECTION),
        # the endpoint only when it writes: no endpoint setting reruns the template writer
        llm=(section_params(LLMSettings, DISSECTION["llm"]) if DISSECTION["writer"] == "llm" else {}),
        llm_cache=L.dissection_llm_cache(),
        n_pitch_bins=config["pitch"]["n_bins"],
        tau_fraction=config["properties"]["tau_fraction"],
    script:
        "../scripts/dissection_layer.py"


rule dissection_summary:
    input:
        summaries=I.dissection_per_layer("summary.json"),
        agreements=I.dissection_per_layer("agreement.tsv"),
    output:
        summary=L.dissection_file("summary.tsv"),
        agreement=L.dissection_file("agreement.tsv"),
    log:
        L.log("{corpus}", "dissection", "{model}", "{checkpoint}", "summary"),
    benchmark:
        L.benchmark("{corpus}", "dissection", "{model}", "{checkpoint}", "summary")
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/dissection_summary.py"


rule dissection_figures:
    input:
        summary=L.dissection_file("summary.tsv"),
        agreement=L.dissection_file("agreement.tsv"),
    output:
        uninterpretable=report(
            L.dissection_file("figures/uninterpretable.png"),
            caption="../report/dissection/uninterpretable.rst",
            category="Network dissection",
            subcategory="{model} on {corpus}",
        ),
        agreement=report(
            L.dissection_file("figures/agreement.png"),
            caption="../report/dissection/agreement.rst",
            category="Network dissection",
            subcategory="{model} on {corpus}",
        ),
    log:
        L.log("{corpus}", "dissection", "{model}", "{checkpoint}", "figures"),
    benchmark:
        L.benchmark("{corpus}", "dissection", "{model}", "{checkpoint}", "figures")
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        title=lambda w: f"{w.model} ({w.checkpoint}) on {w.corpus}",
    script:
        "../scripts/dissection_figures.py"


rule dissection_pruning:
    input:
        model=I.checkpoint_input,
        manifest=L.manifest(),
        labels=L.labels_file("frame_labels.parquet", aligner=ALIGNER),
        pitch=L.pitch_file("pitch_frames.parquet"),
        neurons=I.dissection_per_layer("neurons.tsv"),
    output:
        table=L.dissection_file("pruning.tsv"),
        sets=L.dissection_file("pruning_sets.json"),
    log:
        L.log("{corpus}", "dissection", "{model}", "{checkpoint}", "pruning"),
    benchmark:
        L.benchmark("{corpus}", "dissection", "{model}", "{checkpoint}", "pruning")
    conda:
        "../envs/speechneurons.yaml"
    threads: 2
    resources:
        mem_mb=6000,
        runtime=60,
        gpu=GPU,
    params:
        batching=BATCHING,
        settings=section_params(PruningSettings, DISSECTION["pruning"]),
        seed=DISSECTION["seed"],
        resamples=config["bootstrap"]["resamples"],
        level=config["bootstrap"]["level"],
        probe=section_params(ProbeSettings, config["probes"]),
        frame_settings=section_params(FrameSettings, config["probes"]),
        probe_seed=config["seed"],
        n_pitch_bins=config["pitch"]["n_bins"],
        model_ref=I.checkpoint_ref,
        random_weights=lambda w: w.checkpoint == "random",
        on_bad_input=config["on_bad_input"],
        device=config["device"],
    script:
        "../scripts/dissection_pruning.py"


rule dissection_pruning_figure:
    input:
        table=L.dissection_file("pruning.tsv"),
    output:
        figure=report(
            L.dissection_file("figures/pruning.png"),
            caption="../report/dissection/pruning.rst",
            category="Network dissection",
            subcategory="{model} on {corpus}",
        ),
    log:
        L.log("{corpus}", "dissection", "{model}", "{checkpoint}", "pruning_figure"),
    benchmark:
        L.benchmark("{corpus}", "dissection", "{model}", "{checkpoint}", "pruning_figure")
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        title=lambda w: f"{w.model} ({w.checkpoint}) on {w.corpus}",
    script:
        "../scripts/dissection_pruning_figure.py"


rule dissection_browser:
    input:
        **DISSECTION_ITEMS,
        neurons=I.dissection_per_layer("neurons.tsv"),
        shared=I.dissection_per_layer("shared.tsv"),
        summary=L.dissection_file("summary.tsv"),
        agreement=L.dissection_file("agreement.tsv"),
        manifest=L.manifest(),
    output:
        browser=report(
            L.dissection_file("browser.html"),
            caption="../report/dissection/browser.rst",
            category="Network dissection",
            subcategory="{model} on {corpus}",
        ),
    log:
        L.log("{corpus}", "dissection", "{model}", "{checkpoint}", "browser"),
    benchmark:
        L.benchmark("{corpus}", "dissection", "{model}", "{checkpoint}", "browser")
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        settings=section_params(BrowserSettings, DISSECTION["browser"]),
        title=lambda w: f"Neuron browser: {w.model} ({w.checkpoint}) on {w.corpus}",
    script:
        "../scripts/dissection_browser.py"
