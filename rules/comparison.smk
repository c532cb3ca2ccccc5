# Several models (and corpora) side by side, when the config lists more than one
# (compare.models, compare.corpora): the per-pair tables stacked with corpus and model columns,
# and the property-neuron share against relative depth for every model (docs/comparison.md).

COMPARED = ["summary.tsv", "pruning.tsv", "erasure.tsv", "findings.tsv", "property_share.png"]

if len(PAIRS) > 1:
    ALL_TARGETS += [L.comparison_file(name) for name in COMPARED]


rule comparison:
    input:
        summaries=[L.properties_file("summary.tsv", c, m, "final") for c, m in PAIRS],
        pruning=[L.experiments_file("pruning.tsv", c, m) for c, m in PAIRS],
        erasure=[L.experiments_file("erasure.tsv", c, m) for c, m in PAIRS],
        findings=[L.findings_file("findings.tsv", c, m) for c, m in PAIRS],
    output:
        summary=L.comparison_file("summary.tsv"),
        pruning=L.comparison_file("pruning.tsv"),
        erasure=L.comparison_file("erasure.tsv"),
        findings=L.comparison_file("findings.tsv"),
        figure=report(
            L.comparison_file("property_share.png"),
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
