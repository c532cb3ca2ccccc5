# Several models (and corpora) side by side, when the config lists more than one
# (compare.models, compare.corpora): the per-pair tables stacked with corpus and model columns,
# and the property-neuron share against relative depth for every model (docs/comparison.md).

COMPARISON_TARGETS = [
    L.comparison_summary,
    L.comparison_pruning,
    L.comparison_erasure,
    L.comparison_findings,
    L.comparison_figure,
]

if len(PAIRS) > 1:
    ALL_TARGETS += [f() for f in COMPARISON_TARGETS]


rule comparison:
    input:
        summaries=[L.properties_summary(c, m, "final") for c, m in PAIRS],
        pruning=[L.pruning_table(c, m) for c, m in PAIRS],
        erasure=[L.erasure_table(c, m) for c, m in PAIRS],
        findings=[L.findings_table(c, m) for c, m in PAIRS],
    output:
        summary=L.comparison_summary(),
        pruning=L.comparison_pruning(),
        erasure=L.comparison_erasure(),
        findings=L.comparison_findings(),
        figure=report(
            L.comparison_figure(),
            caption="../report/comparison/property_share.rst",
            category="Comparison",
        ),
    log:
        L.log("comparison", "comparison"),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        pairs=PAIRS,
    script:
        "../scripts/comparison.py"
