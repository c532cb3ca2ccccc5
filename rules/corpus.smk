# Rules of the corpus stage. Both sources write the same manifest.tsv / skipped.tsv /
# speakers.tsv (see README, "Outputs"). synth: one job per speaker (parallel across --cores),
# then a gather job that checks the audio, assigns the train/test split and collects the
# reference TextGrids. The split keys reach only the gather job, so changing them never
# re-synthesizes. librispeech: one job that reads a local directory in place.


ALL_TARGETS += [
    manifest_path(),
    results(corpus_name(), "corpus", "minutes_per_speaker.png"),
]


if config["corpus"]["source"] == "synth":

    ALL_TARGETS.append(reference_dir())

    rule corpus_synth_speaker:
        output:
            audio=directory(results(corpus_name(), "corpus", "audio", "{speaker}")),
            reference=directory(
                results(corpus_name(), "corpus", "parts", "{speaker}", "reference")
            ),
            table=results(corpus_name(), "corpus", "parts", "{speaker}", "utterances.tsv"),
        params:
            utterances=config["corpus"]["synth"]["utterances_per_speaker"],
            words_per_sentence=config["corpus"]["synth"]["words_per_sentence"],
            seed=config["seed"],
            sample_rate=config["frames"]["sample_rate"],
        wildcard_constraints:
            speaker="[A-Za-z0-9_]+",
        log:
            "logs/" + corpus_name() + "/corpus/synth_{speaker}.log",
        benchmark:
            "benchmarks/" + corpus_name() + "/corpus/synth_{speaker}.tsv"
        resources:
            mem_mb=1000,
            runtime=30,
        conda:
            "../envs/speechneurons.yaml"
        script:
            "../scripts/corpus_synth_speaker.py"

    rule corpus_synth_gather:
        input:
            tables=synth_part_tables(),
            references=synth_part_references(),
        output:
            manifest=manifest_path(),
            skipped=results(corpus_name(), "corpus", "skipped.tsv"),
            speakers=results(corpus_name(), "corpus", "speakers.tsv"),
            reference=directory(reference_dir()),
        params:
            sample_rate=config["frames"]["sample_rate"],
            on_bad_input=config["on_bad_input"],
            test_fraction=config["corpus"]["split"]["test_fraction"],
            speaker_disjoint=config["corpus"]["split"]["speaker_disjoint"],
            seed=config["seed"],
        log:
            "logs/" + corpus_name() + "/corpus/synth_gather.log",
        benchmark:
            "benchmarks/" + corpus_name() + "/corpus/synth_gather.tsv"
        resources:
            mem_mb=1000,
            runtime=10,
        conda:
            "../envs/speechneurons.yaml"
        script:
            "../scripts/corpus_synth_gather.py"

else:

    rule corpus_librispeech:
        output:
            manifest=manifest_path(),
            skipped=results(corpus_name(), "corpus", "skipped.tsv"),
            speakers=results(corpus_name(), "corpus", "speakers.tsv"),
        params:
            root=config["corpus"]["librispeech"]["root"],
            splits=config["corpus"]["librispeech"]["splits"],
            utterances_per_speaker=config["corpus"]["librispeech"]["utterances_per_speaker"],
            speakers=config["corpus"]["librispeech"]["speakers"],
            sample_rate=config["frames"]["sample_rate"],
            on_bad_input=config["on_bad_input"],
            test_fraction=config["corpus"]["split"]["test_fraction"],
            speaker_disjoint=config["corpus"]["split"]["speaker_disjoint"],
            seed=config["seed"],
        log:
            "logs/" + corpus_name() + "/corpus/librispeech.log",
        benchmark:
            "benchmarks/" + corpus_name() + "/corpus/librispeech.tsv"
        resources:
            mem_mb=2000,
            runtime=60,
        conda:
            "../envs/speechneurons.yaml"
        script:
            "../scripts/corpus_librispeech.py"


rule corpus_figure:
    input:
        manifest=manifest_path(),
    output:
        png=report(
            results(corpus_name(), "corpus", "minutes_per_speaker.png"),
            caption="../report/corpus/minutes_per_speaker.rst",
            category="Corpus",
        ),
    log:
        "logs/" + corpus_name() + "/corpus/figure.log",
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/speechneurons.yaml"
    script:
        "../scripts/corpus_figure.py"
