# Rules of the pitch stage: F0 with Praat (Parselmouth) on the model frame grid, then pitch
# groups. The binning keys (pitch.n_bins, pitch.binning) reach only pitch_groups, so changing
# them never reruns the F0 extraction.
from speechneurons.pitch.f0 import extraction_config

ALL_TARGETS += [
    pitch_frames_path(),
    results(corpus_name(), "pitch", "pitch_bins.json"),
    results(corpus_name(), "pitch", "f0_distributions.png"),
]


rule pitch_f0:
    input:
        manifest=manifest_path(),
    output:
        f0=results(corpus_name(), "pitch", "f0.parquet"),
        skipped=results(corpus_name(), "pitch", "skipped.tsv"),
    log:
        f"logs/{corpus_name()}/pitch/f0.log",
    benchmark:
        f"benchmarks/{corpus_name()}/pitch/f0.tsv"
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        frames=config["frames"],
        settings=extraction_config(config["pitch"]),
        on_bad_input=config["on_bad_input"],
    script:
        "../scripts/pitch_f0.py"


rule pitch_groups:
    input:
        f0=results(corpus_name(), "pitch", "f0.parquet"),
        manifest=manifest_path(),
    output:
        frames=pitch_frames_path(),
        bins=results(corpus_name(), "pitch", "pitch_bins.json"),
    log:
        f"logs/{corpus_name()}/pitch/groups.log",
    benchmark:
        f"benchmarks/{corpus_name()}/pitch/groups.tsv"
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        n_bins=config["pitch"]["n_bins"],
        binning=config["pitch"]["binning"],
    script:
        "../scripts/pitch_groups.py"


rule pitch_figure:
    input:
        frames=pitch_frames_path(),
        bins=results(corpus_name(), "pitch", "pitch_bins.json"),
        manifest=manifest_path(),
    output:
        png=report(
            results(corpus_name(), "pitch", "f0_distributions.png"),
            caption="../report/pitch/f0_distributions.rst",
            category="Pitch",
        ),
    log:
        f"logs/{corpus_name()}/pitch/figure.log",
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        title=f"F0 of voiced frames, corpus {corpus_name()}",
    script:
        "../scripts/pitch_figure.py"
