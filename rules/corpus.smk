# The corpus stage. Both sources write the same manifest.tsv / skipped.tsv / speakers.tsv.
# synth: one job per speaker (parallel across --cores), then a gather job that checks the audio,
# assigns the train/test split and collects the reference TextGrids; the split keys reach only
# the gather job, so changing them never re-synthesizes. librispeech: one job that reads a
# local directory in place.


ALL_TARGETS += [L.manifest(CORPUS), L.corpus_figure(CORPUS)]
CORPUS_SPLIT = dict(
    on_bad_input=config["on_bad_input"],
    test_fraction=config["corpus"]["split"]["test_fraction"],
    speaker_disjoint=config["corpus"]["split"]["speaker_disjoint"],
    seed=config["seed"],
    sample_rate=config["frames"]["sample_rate"],
)


if config["corpus"]["source"] == "synth":

    ALL_TARGETS.append(L.reference(CORPUS))

    rule corpus_synth_speaker:
        output:
            audio=directory(L.synth_audio()),
            reference=directory(L.synth_part("reference")),
            table=L.synth_part("utterances.tsv"),
        log:
            L.log("{corpus}", "corpus", "synth_{speaker}"),
        benchmark:
            L.benchmark("{corpus}", "corpus", "synth_{speaker}")
        conda:
            "../envs/speechneurons.yaml"
        resources:
            mem_mb=1000,
            runtime=30,
        params:
            utterances_per_speaker=config["corpus"]["synth"]["utterances_per_speaker"],
            words_per_sentence=config["corpus"]["synth"]["words_per_sentence"],
            seed=config["seed"],
            sample_rate=config["frames"]["sample_rate"],
        script:
            "../scripts/corpus_synth_speaker.py"

    rule corpus_synth_gather:
        input:
            tables=synth_parts("utterances.tsv"),
            references=synth_parts("reference"),
        output:
            manifest=L.manifest(),
            skipped=L.corpus_skipped(),
            speakers=L.speakers(),
            reference=directory(L.reference()),
        log:
            L.log("{corpus}", "corpus", "synth_gather"),
        benchmark:
            L.benchmark("{corpus}", "corpus", "synth_gather")
        conda:
            "../envs/speechneurons.yaml"
        resources:
            mem_mb=1000,
            runtime=10,
        params:
            **CORPUS_SPLIT,
        script:
            "../scripts/corpus_synth_gather.py"

else:

    rule corpus_librispeech:
        output:
            manifest=L.manifest(),
            skipped=L.corpus_skipped(),
            speakers=L.speakers(),
        log:
            L.log("{corpus}", "corpus", "librispeech"),
        benchmark:
            L.benchmark("{corpus}", "corpus", "librispeech")
        conda:
            "../envs/speechneurons.yaml"
        resources:
            mem_mb=2000,
            runtime=60,
        params:
            **config["corpus"]["librispeech"],
            **CORPUS_SPLIT,
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
