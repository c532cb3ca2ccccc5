# The pitch stage: F0 with Praat (Parselmouth) on the model frame grid, then pitch groups. The
# F0 job reads only the tracker's keys (PitchSettings), so the binning keys (pitch.n_bins,
# pitch.binning) never rerun it.
from speechneurons.pitch.f0 import PitchSettings

ALL_TARGETS += [f(c) for c in CORPORA for f in (L.pitch_frames, L.pitch_bins, L.pitch_figure)]


rule pitch_f0:
    input:
        manifest=L.manifest(),
    output:
        f0=L.f0(),
        skipped=L.pitch_skipped(),
    log:
        L.log("{corpus}", "pitch", "f0"),
    benchmark:
        L.benchmark("{corpus}", "pitch", "f0")
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        frames=config["frames"],
        settings=section_params(PitchSettings, config["pitch"]),
        on_bad_input=config["on_bad_input"],
    script:
        "../scripts/pitch_f0.py"


rule pitch_groups:
    input:
        f0=L.f0(),
        manifest=L.manifest(),
    output:
        frames=L.pitch_frames(),
        bins=L.pitch_bins(),
    log:
        L.log("{corpus}", "pitch", "groups"),
    benchmark:
        L.benchmark("{corpus}", "pitch", "groups")
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
        frames=L.pitch_frames(),
        bins=L.pitch_bins(),
        manifest=L.manifest(),
    output:
        png=report(
            L.pitch_figure(),
            caption="../report/pitch/f0_distributions.rst",
            category="Pitch",
        ),
    log:
        L.log("{corpus}", "pitch", "figure"),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        title=lambda w: f"F0 of voiced frames, corpus {w.corpus}",
    script:
        "../scripts/pitch_figure.py"
