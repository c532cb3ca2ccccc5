"""Real recordings: 60 of Debian's recorded English prompts (one female speaker, 16 kHz; packages
asterisk-core-sounds-en-g722 and asterisk-core-sounds-en, installed by `make test` through
envs/apt-test-packages.txt), laid out as a LibriSpeech folder, through the corpus stage,
pocketsphinx alignment (with its fit check), pitch, the activations of a small random model and
the property statistic. The rest of the suite hears synthesized voices only."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from speechneurons.align.textgrid import read_alignment_textgrid
from speechneurons.io import read_json
from tests.helpers.corpus import ASTERISK_SOUNDS, ASTERISK_TRANSCRIPTS, make_asterisk_librispeech_dir
from tests.model.test_registry import save_tiny
from tests.workflow.test_smoke import make_workdir, snakemake

CORPUS, MODEL = "prompts", "tiny-random"
#: Leading silence: the 10 ms frames before the first one within 40 dB of the loudest. A first
#: phone "inside" it starts more than the aligner's resolution (50 ms: 10 ms frames, 25 ms
#: windows, 3-frame phones) before its end.
SILENCE_DB, RESOLUTION_S = -40.0, 0.05


def leading_silence_s(path) -> float:
    audio, sr = sf.read(path, dtype="float64")
    hop = sr // 100
    n = len(audio) // hop
    rms = np.sqrt(np.mean(audio[: n * hop].reshape(n, hop) ** 2, axis=1)) + 1e-12
    db = 20 * np.log10(rms / rms.max())
    return float(np.argmax(db > SILENCE_DB) * hop / sr)


@pytest.fixture(scope="module")
def prompts_run(tmp_path_factory):
    if not ASTERISK_SOUNDS.is_dir() or not ASTERISK_TRANSCRIPTS.exists() or shutil.which("ffmpeg") is None:
        pytest.skip(
            "Debian's recorded prompts or ffmpeg are missing: `bash envs/setup.sh --test` installs "
            "asterisk-core-sounds-en-g722, asterisk-core-sounds-en and ffmpeg (envs/apt-test-packages.txt)"
        )
    work = make_workdir(tmp_path_factory.mktemp("prompts"))
    make_asterisk_librispeech_dir(work / "Prompts", n=60)
    save_tiny(work / MODEL)
    override = {
        "corpus": {"name": CORPUS, "source": "librispeech", "librispeech": {"root": "Prompts"}},
        "model": {"name": MODEL, "source": "huggingface", "path": MODEL},
        "align": {"aligner": "pocketsphinx", "shards": 2},
        "activations": {"sample_frames": 500},
        "properties": {"min_count": 1},
        "bootstrap": {"resamples": 50},
    }
    (work / "prompts.yaml").write_text(yaml.safe_dump(override))
    results = f"results/{CORPUS}"
    targets = [
        f"{results}/align/pocketsphinx/report.tsv",
        f"{results}/pitch/f0.parquet",
        f"{results}/properties/{MODEL}/final/layer-1/neurons.json",
    ]
    snakemake(work, *targets, "--cores", "2", "--configfile", "prompts.yaml")
    return work / results, work


@pytest.mark.slow
def test_real_recordings_are_aligned_pitched_and_analysed(prompts_run):
    results, work = prompts_run
    manifest = pd.read_csv(results / "corpus" / "manifest.tsv", sep="\t", dtype={"utt_id": str})
    assert len(manifest) == 60 and set(manifest.gender) == {"F"}

    # speech is aligned: every utterance passes the fit check (on_bad_input: error stops the run otherwise)
    report = pd.read_csv(results / "align" / "pocketsphinx" / "report.tsv", sep="\t", dtype={"utt_id": str})
    aligned = report[report.status == "aligned"]
    assert len(aligned) == 60
    assert (aligned.score_per_frame > -35).all() and (aligned.quiet_speech_share < 0.5).all()
    # ... and no first phone starts inside the leading silence: none at 0.00 s when the recording
    # has 100 ms or more of it (without edge silence, 41 of 60 began at 0.00 s, 6 of them after
    # 100-280 ms of silence; a shorter one may be a stop's closure), and the first phones start
    # within the aligner's resolution of the silence's end
    leads, firsts, swallowed = [], [], []
    for row in manifest.itertuples():
        tg = results / "align" / "pocketsphinx" / "textgrids" / f"{row.utt_id}.TextGrid"
        first = next(start for start, _, label in read_alignment_textgrid(tg)[2] if label)
        silence = leading_silence_s(work / row.audio_path)
        leads.append(first - silence)
        firsts.append(first)
        if first == 0.0 and silence >= 2 * RESOLUTION_S:
            swallowed.append(f"{row.utt_id} ({1000 * silence:.0f} ms of silence)")
    after = float(np.mean(np.array(leads) >= -RESOLUTION_S))
    print(
        f"aligned {len(aligned)} of {len(report)}; first phones starting after the leading silence: "
        f"{100 * after:.0f} % (median first phone minus silence end {1000 * np.median(leads):.0f} ms; "
        f"{firsts.count(0.0)} at 0.00 s)"
    )
    assert swallowed == []
    assert after >= 0.9

    # F0 in a plausible female range
    f0 = pd.read_parquet(results / "pitch" / "f0.parquet")
    voiced = f0.loc[f0.voiced, "f0_hz"] if "voiced" in f0 else f0["f0_hz"].dropna()
    median = float(np.median(voiced))
    print(f"median F0 {median:.0f} Hz over {len(voiced)} voiced frames")
    assert 160 <= median <= 260

    # one speaker, one gender: gender is reported as not computable, not as zero neurons
    neurons = read_json(results / "properties" / MODEL / "final" / "layer-1" / "neurons.json")
    assert "gender" in neurons["not_computable"]
    assert "one gender" in neurons["not_computable"]["gender"] or "gender" in neurons["not_computable"]["gender"]
