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
            table=results(
                corpus_name(), "corpus", "parts", "{speaker}", "utterances.tsv"
            ),
        log:
            f"logs/{corpus_name()}/corpus/synth_{{speaker}}.log",
        benchmark:
            f"benchmarks/{corpus_name()}/corpus/synth_{{speaker}}.tsv"
        wildcard_constraints:
            speaker="[A-Za-z0-9_]+",
        conda:
            "../envs/speechneurons.yaml"
        resources:
            mem_mb=1000,
            runtime=30,
        params:
            utterances=config["corpus"]["synth"]["utterances_per_speaker"],
            words_per_sentence=config["corpus"]["synth"]["words_per_sentence"],
            seed=config["seed"],
            sample_rate=config["frames"]["sample_rate"],
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
        log:
            f"logs/{corpus_name()}/corpus/synth_gather.log",
        benchmark:
            f"benchmarks/{corpus_name()}/corpus/synth_gather.tsv"
        conda:
            "../envs/speechneurons.yaml"
        resources:
            mem_mb=1000,
            runtime=10,
        params:
            sample_rate=config["frames"]["sample_rate"],
            on_bad_input=config["on_bad_input"],
            test_fraction=config["corpus"]["split"]["test_fraction"],
            speaker_disjoint=config["corpus"]["split"]["speaker_disjoint"],
            seed=config["seed"],
        script:
            "../scripts/corpus_synth_gather.py"

else:

    rule corpus_librispeech:
        output:
            manifest=manifest_path(),
            skipped=results(corpus_name(), "corpus", "skipped.tsv"),
            speakers=results(corpus_name(), "corpus", "speakers.tsv"),
        log:
            f"logs/{corpus_name()}/corpus/librispeech.log",
        benchmark:
            f"benchmarks/{corpus_name()}/corpus/librispeech.tsv"
        conda:
            "../envs/speechneurons.yaml"
        resources:
            mem_mb=2000,
            runtime=60,
        params:
            root=config["corpus"]["librispeech"]["root"],
            splits=config["corpus"]["librispeech"]["splits"],
            utterances_per_speaker=config["corpus"]["librispeech"][
                "utterances_per_speaker"
            ],
            speakers=config["corpus"]["librispeech"]["speakers"],
            sample_rate=config["frames"]["sample_rate"],
            on_bad_input=config["on_bad_input"],
            test_fraction=config["corpus"]["split"]["test_fraction"],
            speaker_disjoint=config["corpus"]["split"]["speaker_disjoint"],
            seed=config["seed"],
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
        f"logs/{corpus_name()}/corpus/figure.log",
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/corpus_figure.py"
