# The findings page: every claim of the papers, the paper's number, this run's number with its
# interval and chance level, and a verdict (docs/findings.md). First in the report. The
# property counts are those of the checkpoint the experiments use (experiments.checkpoint).


ALL_TARGETS += [
    L.findings_file(name, c, m)
    for c, m in PAIRS
    for name in ["findings.tsv", "findings.html"]
]


rule findings:
    input:
        summary=L.properties_file("summary.tsv", checkpoint=EXPERIMENTS_CHECKPOINT),
        replicates=per_layer("replicates.tsv", EXPERIMENTS_CHECKPOINT),
        random_weights=lambda w: (
            L.properties_file("summary.tsv", w.corpus, w.model, "random")
            if config["properties"]["random_weights_control"]
            else []
        ),
        pruning=L.experiments_file("pruning.tsv"),
        erasure=L.experiments_file("erasure.tsv"),
    output:
        table=L.findings_file("findings.tsv"),
        page=report(
            L.findings_file("findings.html"),
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
        level=config["bootstrap"]["level"],
        layers=lambda w: layers_of(w.model),
        splits=lambda w: {
            "property_splits": config["properties"]["splits"],
            "test_fraction": CORPORA[w.corpus]["split"]["test_fraction"],
            "speaker_disjoint": CORPORA[w.corpus]["split"]["speaker_disjoint"],
            "validation_fraction": config["probes"]["validation_fraction"],
            "gender_folds": config["probes"]["gender_folds"],
        },
    script:
        "../scripts/findings.py"
