# The dissection stage (docs/network-dissection.md, after AND, Wu et al., ICML 2024): every FFN
# neuron of every dissected layer described in words from the items that excite it most and
# least, its top concepts, their agreement with the property neurons against shuffled labels,
# concept-specific pruning against a matched random control, and a browser of neuron cards with
# playable snippets; the same items, layers and summary on the random-weights network as a control.
# Items and descriptions are chosen on dissection.splits (train); agreement
# and pruning are scored on the held-out (test) items.
#
# Outputs: docs/outputs.md (paths from speechneurons.layout).
from speechneurons.dissection.settings import (
    BrowserSettings,
    DissectionSettings,
    ItemSettings,
    LLMSettings,
    PruningSettings,
)
from speechneurons.probing.features import FrameSettings
from speechneurons.probing.probes import ProbeSettings
from speechneurons.study import CTC_TWIN

DISSECTION = config["dissection"]
PRUNING_ON = bool(DISSECTION["pruning"]["families"])
# the random-weights control: items, layers and summary (no pruning, figures or browser) on the
# checkpoint 'random', read by the findings page beside the trained network's
DISSECTION_RANDOM = bool(DISSECTION["random_weights_control"]) and EXPERIMENTS_CHECKPOINT != "random"
ALL_TARGETS += [
    path
    for c, m in PAIRS
    for path in [
        L.dissection_summary(c, m, "final"),
        L.dissection_agreement(c, m, "final"),
        L.dissection_figure("uninterpretable", c, m, "final"),
        L.dissection_figure("agreement", c, m, "final"),
        L.dissection_browser(c, m, "final"),
        *([L.dissection_pruning(c, m, "final"), L.dissection_figure("pruning", c, m, "final")] if PRUNING_ON else []),
        # the CTC fine-tuned twin (dissection.ctc_twin; its layers are read by the findings)
        *([L.dissection_summary(c, m, CTC_TWIN)] if S.ctc_twin() else []),
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
        labels=L.frame_labels(aligner=ALIGNER),
        pitch=L.pitch_frames(),
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
        neurons=L.property_neurons(),
    output:
        neurons=L.dissection_neurons(),
        shared=L.dissection_shared(),
        similarity=L.dissection_similarity(),
        agreement=L.dissection_layer_agreement(),
        summary=L.dissection_layer_summary(),
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
        level=config["bootstrap"]["level"],
    script:
        "../scripts/dissection_layer.py"


rule dissection_summary:
    input:
        summaries=I.dissection_per_layer(L.dissection_layer_summary),
        agreements=I.dissection_per_layer(L.dissection_layer_agreement),
    output:
        summary=L.dissection_summary(),
        agreement=L.dissection_agreement(),
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
        summary=L.dissection_summary(),
        agreement=L.dissection_agreement(),
    output:
        uninterpretable=report(
            L.dissection_figure("uninterpretable"),
            caption="../report/dissection/uninterpretable.rst",
            category="Network dissection",
            subcategory="{model} on {corpus}",
        ),
        agreement=report(
            L.dissection_figure("agreement"),
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
        labels=L.frame_labels(aligner=ALIGNER),
        pitch=L.pitch_frames(),
        neurons=I.dissection_per_layer(L.dissection_neurons),
        # the property statistic's counts per group: the rates the controls are matched on
        P=I.dissection_per_layer(L.property_P),
    output:
        table=L.dissection_pruning(),
        sets=L.dissection_pruning_sets(),
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
        match_neighbours=config["experiments"]["match_neighbours"],
        balance_ks=config["experiments"]["balance_ks"],
        control_rate=config["experiments"]["erasure_control_rate"],
        probe=section_params(ProbeSettings, config["probes"]),
        frame_settings=section_params(FrameSettings, config["probes"]),
        probe_seed=config["seed"],
        n_pitch_bins=config["pitch"]["n_bins"],
        model_ref=I.checkpoint_ref,
        random_weights=lambda w: is_random(w.checkpoint),
        on_bad_input=config["on_bad_input"],
        device=config["device"],
    script:
        "../scripts/dissection_pruning.py"


rule dissection_pruning_figure:
    input:
        table=L.dissection_pruning(),
    output:
        figure=report(
            L.dissection_figure("pruning"),
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
        neurons=I.dissection_per_layer(L.dissection_neurons),
        shared=I.dissection_per_layer(L.dissection_shared),
        summary=L.dissection_summary(),
        agreement=L.dissection_agreement(),
        manifest=L.manifest(),
    output:
        browser=report(
            L.dissection_browser(),
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
