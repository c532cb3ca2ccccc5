# The corpus stage, once per corpus. Both sources write the same manifest.tsv / skipped.tsv /
# speakers.tsv. synth: one job per speaker (parallel across --cores), then a gather job that
# checks the audio, assigns the train/test split and collects the reference TextGrids; the
# split keys reach only the gather job, so changing them never re-synthesizes. librispeech: one
# job that reads a local directory in place; the listing of that folder (path, size, mtime of
# every file it reads) is its input, so that a changed corpus reruns it. Both check every
# sample of every file and that it is at least one model frame long.
from speechneurons.frames import FrameGrid

ALL_TARGETS += [path for c in CORPORA for path in (L.manifest(c), L.corpus_figure(c))]
ALL_TARGETS += [L.reference(c) for c in S.corpora_of("synth")]
CORPUS_SPLIT = dict(
    on_bad_input=config["on_bad_input"],
    test_fraction=I.corpus_setting("split", "test_fraction"),
    speaker_disjoint=I.corpus_setting("split", "speaker_disjoint"),
    seed=config["seed"],
    sample_rate=config["frames"]["sample_rate"],
    min_samples=FrameGrid.from_config(config["frames"]).receptive_field,
)


rule corpus_synth_speaker:
    output:
        audio=directory(L.synth_audio()),
        reference=directory(L.synth_part_reference()),
        table=L.synth_part_table(),
    log:
        L.log("{corpus}", "corpus", "synth_{speaker}"),
    benchmark:
        L.benchmark("{corpus}", "corpus", "synth_{speaker}")
    wildcard_constraints:
        corpus=one_of(S.corpora_of("synth")),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        speaker=lambda w: w.speaker,
        utterances_per_speaker=I.corpus_setting("synth", "utterances_per_speaker"),
        words_per_sentence=I.corpus_setting("synth", "words_per_sentence"),
        seed=config["seed"],
        sample_rate=config["frames"]["sample_rate"],
    script:
        "../scripts/corpus_synth_speaker.py"


rule corpus_synth_gather:
    input:
        tables=I.synth_parts(L.synth_part_table),
        references=I.synth_parts(L.synth_part_reference),
    output:
        manifest=L.manifest(),
        skipped=L.corpus_skipped(),
        speakers=L.speakers(),
        reference=directory(L.reference()),
    log:
        L.log("{corpus}", "corpus", "synth_gather"),
    benchmark:
        L.benchmark("{corpus}", "corpus", "synth_gather")
    wildcard_constraints:
        corpus=one_of(S.corpora_of("synth")),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        **CORPUS_SPLIT,
    script:
        "../scripts/corpus_synth_gather.py"


rule corpus_librispeech:
    input:
        listing=L.corpus_listing(),
    output:
        manifest=L.manifest(),
        skipped=L.corpus_skipped(),
        speakers=L.speakers(),
    log:
        L.log("{corpus}", "corpus", "librispeech"),
    benchmark:
        L.benchmark("{corpus}", "corpus", "librispeech")
    wildcard_constraints:
        corpus=one_of(S.corpora_of("librispeech")),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        **CORPUS_SPLIT,
        root=I.corpus_setting("librispeech", "root"),
        splits=I.corpus_setting("librispeech", "splits"),
        utterances_per_speaker=I.corpus_setting("librispeech", "utterances_per_speaker"),
        speakers=I.corpus_setting("librispeech", "speakers"),
    script:
        "../scripts/corpus_librispeech.py"


rule corpus_figure:
    input:
        manifest=L.manifest(),
    output:
        png=report(
            L.corpus_figure(),
            caption="../report/corpus/minutes_per_speaker.rst",
            category="Corpus",
        ),
    log:
        L.log("{corpus}", "corpus", "figure"),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/corpus_figure.py"
