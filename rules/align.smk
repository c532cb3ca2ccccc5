# Rules of the align stage: forced alignment in shards (pocketsphinx, reference) or one MFA run,
# a gather job (TextGrids, report.tsv, failed.tsv), frame labels on the model frame grid, and
# the alignment quality against the synthesizer's own timings. The aligner is the {aligner}
# wildcard, so two aligners can be compared in one results tree; the default targets use
# align.aligner.
import shlex

from speechneurons.align.mfa import mfa_command

ALL_TARGETS += [frame_labels_path(), *align_quality_targets()]


rule align_shard:
    input:
        manifest=manifest_path(),
        reference=align_reference_input,
    output:
        directory(results(corpus_name(), "align", "{aligner}", "shards", "{shard}")),
    log:
        f"logs/{corpus_name()}/align/{{aligner}}/shard_{{shard}}.log",
    benchmark:
        f"benchmarks/{corpus_name()}/align/{{aligner}}/shard_{{shard}}.tsv"
    wildcard_constraints:
        aligner="pocketsphinx|reference",
        shard=r"\d+",
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1500,
        runtime=120,
    params:
        shards=config["align"]["shards"],
        on_bad_input=config["on_bad_input"],
        beams=lambda w: (
            config["align"]["pocketsphinx"]["beams"]
            if w.aligner == "pocketsphinx"
            else []
        ),
        sample_rate=config["frames"]["sample_rate"],
    script:
        "../scripts/align_shard.py"


rule align_mfa_prepare:
    input:
        manifest=manifest_path(),
    output:
        directory(results(corpus_name(), "align", "mfa", "work", "corpus")),
    log:
        f"logs/{corpus_name()}/align/mfa/prepare.log",
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/align_mfa_prepare.py"


# MFA itself, exactly as its documentation gives it (command line built by
# speechneurons.align_mfa.mfa_command); needs --use-conda (or `mfa` on PATH).
rule align_mfa:
    input:
        corpus=results(corpus_name(), "align", "mfa", "work", "corpus"),
    output:
        alignments=directory(results(corpus_name(), "align", "mfa", "work", "output")),
    log:
        f"logs/{corpus_name()}/align/mfa/mfa.log",
    benchmark:
        f"benchmarks/{corpus_name()}/align/mfa/mfa.tsv"
    conda:
        "../envs/mfa.yaml"
    threads: config["align"]["mfa"]["threads"]
    resources:
        mem_mb=8000,
        runtime=600,
    params:
        cmd=lambda w, input, output, threads: shlex.join(
            mfa_command(
                config["align"]["mfa"]["mode"],
                input.corpus,
                output.alignments,
                config["align"]["mfa"]["dictionary"],
                config["align"]["mfa"]["acoustic_model"],
                model_out=results(
                    corpus_name(), "align", "mfa", "work", "acoustic_model.zip"
                ),
                num_jobs=threads,
                temp_dir=results(corpus_name(), "align", "mfa", "work", "tmp"),
                beam=config["align"]["mfa"]["beam"],
                retry_beam=config["align"]["mfa"]["retry_beam"],
                extra_args=config["align"]["mfa"]["extra_args"],
            )
        ),
    shell:
        "{params.cmd} > {log} 2>&1"


rule align_mfa_collect:
    input:
        manifest=manifest_path(),
        alignments=results(corpus_name(), "align", "mfa", "work", "output"),
    output:
        directory(results(corpus_name(), "align", "mfa", "shards", "all")),
    log:
        f"logs/{corpus_name()}/align/mfa/collect.log",
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=30,
    script:
        "../scripts/align_mfa_collect.py"


rule align_gather:
    input:
        manifest=manifest_path(),
        shards=align_shard_dirs,
    output:
        textgrids=directory(results(corpus_name(), "align", "{aligner}", "textgrids")),
        report=results(corpus_name(), "align", "{aligner}", "report.tsv"),
        failed=results(corpus_name(), "align", "{aligner}", "failed.tsv"),
    log:
        f"logs/{corpus_name()}/align/{{aligner}}/gather.log",
    wildcard_constraints:
        aligner="pocketsphinx|mfa|reference",
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        on_bad_input=config["on_bad_input"],
        max_failed_share=config["align"]["max_failed_share"],
    script:
        "../scripts/align_gather.py"


rule frame_labels:
    input:
        manifest=manifest_path(),
        textgrids=results(corpus_name(), "align", "{aligner}", "textgrids"),
        report=results(corpus_name(), "align", "{aligner}", "report.tsv"),
    output:
        labels=results(corpus_name(), "labels", "{aligner}", "frame_labels.parquet"),
        utterances=results(corpus_name(), "labels", "{aligner}", "utterances.tsv"),
    log:
        f"logs/{corpus_name()}/labels/{{aligner}}/frame_labels.log",
    benchmark:
        f"benchmarks/{corpus_name()}/labels/{{aligner}}/frame_labels.tsv"
    wildcard_constraints:
        aligner="pocketsphinx|mfa|reference",
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        frames=config["frames"],
        on_bad_input=config["on_bad_input"],
    script:
        "../scripts/align_frame_labels.py"


rule align_quality:
    input:
        manifest=manifest_path(),
        textgrids=results(corpus_name(), "align", "{aligner}", "textgrids"),
        report=results(corpus_name(), "align", "{aligner}", "report.tsv"),
        reference=reference_dir(),
    output:
        table=results(corpus_name(), "align", "{aligner}", "quality.tsv"),
        png=report(
            results(corpus_name(), "align", "{aligner}", "quality.png"),
            caption="../report/align/quality.rst",
            category="Alignment",
        ),
    log:
        f"logs/{corpus_name()}/align/{{aligner}}/quality.log",
    benchmark:
        f"benchmarks/{corpus_name()}/align/{{aligner}}/quality.tsv"
    wildcard_constraints:
        aligner="pocketsphinx|mfa",
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=20,
    script:
        "../scripts/align_quality.py"
