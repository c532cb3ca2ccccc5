# The align stage: forced alignment in shards (pocketsphinx, reference, precomputed TextGrids:
# speechneurons.align.precomputed) or one MFA run, a gather
# job (TextGrids, report.tsv, failed.tsv), frame labels on the model frame grid, and the
# alignment quality against the synthesizer's own timings. The aligner is the {aligner}
# wildcard, so two aligners can be compared in one results tree; the default targets use
# align.aligner.
import shlex

from speechneurons.align.mfa import mfa_command

ALL_TARGETS += [L.frame_labels(c, ALIGNER) for c in CORPORA]
if ALIGNER != "reference":
    ALL_TARGETS += [
        f(c, ALIGNER) for c in S.corpora_of("synth") for f in (L.align_quality_table, L.align_quality_figure)
    ]


rule align_shard:
    input:
        manifest=L.manifest(),
        reference=I.reference_timings,
    output:
        shard=directory(L.align_shard()),
    log:
        L.log("{corpus}", "align", "{aligner}", "shard_{shard}"),
    benchmark:
        L.benchmark("{corpus}", "align", "{aligner}", "shard_{shard}")
    wildcard_constraints:
        aligner="pocketsphinx|reference|textgrids",
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1500,
        runtime=120,
    params:
        aligner=lambda w: w.aligner,
        shard=lambda w: int(w.shard),
        shards=config["align"]["shards"],
        on_bad_input=config["on_bad_input"],
        pocketsphinx=lambda w: (config["align"]["pocketsphinx"] if w.aligner == "pocketsphinx" else {}),
        sample_rate=config["frames"]["sample_rate"],
        textgrids_root=config["align"]["textgrids"]["root"],
    script:
        "../scripts/align_shard.py"


rule align_mfa_prepare:
    input:
        manifest=L.manifest(),
    output:
        corpus=directory(L.mfa_corpus()),
    log:
        L.log("{corpus}", "align", "mfa", "prepare"),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/align_mfa_prepare.py"


# MFA itself, exactly as its documentation gives it (command line built by
# speechneurons.align.mfa.mfa_command); needs --use-conda (or `mfa` on PATH).
rule align_mfa:
    input:
        corpus=L.mfa_corpus(),
    output:
        alignments=directory(L.mfa_output()),
    log:
        L.log("{corpus}", "align", "mfa", "mfa"),
    benchmark:
        L.benchmark("{corpus}", "align", "mfa", "mfa")
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
                model_out=L.mfa_acoustic_model(w.corpus),
                num_jobs=threads,
                temp_dir=L.mfa_tmp(w.corpus),
                beam=config["align"]["mfa"]["beam"],
                retry_beam=config["align"]["mfa"]["retry_beam"],
                extra_args=config["align"]["mfa"]["extra_args"],
            )
        ),
    shell:
        "{params.cmd} > {log} 2>&1"


rule align_mfa_collect:
    input:
        manifest=L.manifest(),
        alignments=L.mfa_output(),
    output:
        shard=directory(L.align_shard(aligner="mfa", shard="all")),
    log:
        L.log("{corpus}", "align", "mfa", "collect"),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=30,
    script:
        "../scripts/align_mfa_collect.py"


rule align_gather:
    input:
        manifest=L.manifest(),
        shards=I.align_shards,
    output:
        textgrids=directory(L.textgrids()),
        report=L.align_report(),
        failed=L.align_failed(),
    log:
        L.log("{corpus}", "align", "{aligner}", "gather"),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        aligner=lambda w: w.aligner,
        on_bad_input=config["on_bad_input"],
        max_failed_share=config["align"]["max_failed_share"],
        textgrids_root=config["align"]["textgrids"]["root"],
    script:
        "../scripts/align_gather.py"


rule align_frame_labels:
    input:
        manifest=L.manifest(),
        textgrids=L.textgrids(),
        report=L.align_report(),
    output:
        labels=L.frame_labels(),
        utterances=L.label_utterances(),
    log:
        L.log("{corpus}", "labels", "{aligner}", "frame_labels"),
    benchmark:
        L.benchmark("{corpus}", "labels", "{aligner}", "frame_labels")
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
        manifest=L.manifest(),
        textgrids=L.textgrids(),
        report=L.align_report(),
        reference=L.reference(),
    output:
        table=L.align_quality_table(),
        png=report(
            L.align_quality_figure(),
            caption="../report/align/quality.rst",
            category="Alignment",
        ),
    log:
        L.log("{corpus}", "align", "{aligner}", "quality"),
    benchmark:
        L.benchmark("{corpus}", "align", "{aligner}", "quality")
    wildcard_constraints:
        aligner="pocketsphinx|mfa|textgrids",
        corpus=one_of(S.corpora_of("synth")),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=20,
    params:
        aligner=lambda w: w.aligner,
    script:
        "../scripts/align_quality.py"
