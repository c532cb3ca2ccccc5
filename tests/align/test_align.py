"""Alignment: sharding, skip-and-count, the failure threshold, the reference backend and
pocketsphinx on a couple of synthesized utterances."""

from __future__ import annotations

import shutil
import subprocess

import pandas as pd
import pytest

from speechneurons.align.alignment import (
    AlignmentError,
    align_rows,
    gather_shards,
    pocketsphinx_align_fn,
    reference_align_fn,
    shard_rows,
)
from speechneurons.align.pocketsphinx import AlignmentFailed, PocketsphinxAligner, normalize_words
from speechneurons.align.textgrid import read_alignment_textgrid, write_alignment_textgrid
from speechneurons.errors import BadInputError

WORDS = [(0.1, 0.3, "the"), (0.3, 0.7, "cat")]
PHONES = [(0.1, 0.2, "DH"), (0.2, 0.3, "AH0"), (0.3, 0.45, "K"), (0.45, 0.6, "AE1"), (0.6, 0.7, "T")]


def manifest(n=5):
    return pd.DataFrame(
        {
            "utt_id": [f"u{i}" for i in range(n)],
            "audio_path": [f"/nowhere/u{i}.wav" for i in range(n)],
            "speaker": ["A", "B"] * (n // 2) + ["A"] * (n % 2),
            "transcript": ["the cat"] * n,
        }
    )


def fake_align(row):
    if row.utt_id == "u1":
        raise AlignmentFailed("no alignment within any beam setting", 3)
    if row.utt_id == "u3":
        raise BadInputError(row.audio_path, "word 'xq' unknown", "fix it", row.utt_id)
    return 1.0, WORDS, PHONES, 1


def test_shards_partition_the_manifest():
    m = manifest(7)
    parts = [shard_rows(m, k, 3) for k in range(3)]
    assert sorted(sum((list(p.utt_id) for p in parts), [])) == sorted(m.utt_id)
    assert list(parts[1].utt_id) == ["u1", "u4"]
    with pytest.raises(ValueError):
        shard_rows(m, 3, 3)


def test_skip_and_count_then_gather(tmp_path):
    m = manifest(5)
    dirs = []
    for k in range(2):
        d = tmp_path / "shards" / str(k)
        align_rows(shard_rows(m, k, 2), fake_align, d, on_bad_input="skip")
        dirs.append(d)
    rep = pd.read_csv(dirs[1] / "report.tsv", sep="\t", keep_default_na=False)
    assert dict(zip(rep.utt_id, rep.status)) == {"u1": "failed", "u3": "failed"}
    out = tmp_path / "textgrids"
    report = gather_shards(dirs, m, out, tmp_path / "report.tsv", tmp_path / "failed.tsv", on_bad_input="skip")
    assert list(report.utt_id) == list(m.utt_id)
    assert sorted(p.stem for p in out.glob("*.TextGrid")) == ["u0", "u2", "u4"]
    failed = pd.read_csv(tmp_path / "failed.tsv", sep="\t")
    assert list(failed.utt_id) == ["u1", "u3"] and list(failed.speaker) == ["B", "B"]
    assert failed.attempts.tolist() == [3, 0]
    duration, words, phones = read_alignment_textgrid(out / "u0.TextGrid")
    assert duration == 1.0 and [p[2] for p in phones if p[2]] == ["DH", "AH0", "K", "AE1", "T"]


def test_bad_input_is_loud_with_error(tmp_path):
    with pytest.raises(BadInputError, match="xq"):
        align_rows(manifest(5), fake_align, tmp_path / "s", on_bad_input="error")
    assert not (tmp_path / "s").exists()  # nothing half-written


def test_failure_share_threshold(tmp_path):
    m = manifest(5)
    d = tmp_path / "s0"
    align_rows(m[m.utt_id != "u3"], fake_align, d)  # u1 fails: 1 of 4 = 25 %
    args = ([d], m[m.utt_id != "u3"], tmp_path / "tg", tmp_path / "r.tsv", tmp_path / "f.tsv")
    with pytest.raises(AlignmentError, match="1 of 4 .* failed to align"):
        gather_shards(*args, on_bad_input="error", max_failed_share=0.2)
    gather_shards(*args, on_bad_input="error", max_failed_share=0.3)
    gather_shards(*args, on_bad_input="skip", max_failed_share=0.0)
    with pytest.raises(AlignmentError, match="in no shard report"):
        gather_shards([d], m, tmp_path / "tg", tmp_path / "r.tsv", tmp_path / "f.tsv", on_bad_input="skip")


def test_reference_backend(tmp_path):
    write_alignment_textgrid(tmp_path / "ref" / "u0.TextGrid", 1.0, WORDS, PHONES)
    align = reference_align_fn(tmp_path / "ref")
    m = manifest(2)
    rep = align_rows(m, align, tmp_path / "s", on_bad_input="skip")
    assert list(rep.status) == ["aligned", "failed"] and "does not exist" in rep.reason[1]
    assert read_alignment_textgrid(tmp_path / "s" / "textgrids" / "u0.TextGrid") == read_alignment_textgrid(
        tmp_path / "ref" / "u0.TextGrid"
    )


def test_normalize_words():
    assert normalize_words("It's a well-known FACT, isn't it? 'Quoted'") == [
        "it's",
        "a",
        "well",
        "known",
        "fact",
        "isn't",
        "it",
        "quoted",
    ]


@pytest.fixture(scope="module")
def flite_utterances(tmp_path_factory):
    if shutil.which("flite") is None:
        pytest.skip("flite is not installed")
    import soundfile as sf
    import soxr

    d = tmp_path_factory.mktemp("flite")
    rows = []
    for i, text in enumerate(
        ["The cat sat on the mat near the window.", "Seven brown dogs ran quickly across the zeugma."]
    ):
        raw = d / f"raw{i}.wav"
        out = subprocess.run(
            ["flite", "-voice", "slt", "-t", text, "-o", str(raw), "-psdur"], capture_output=True, text=True, check=True
        )
        audio, sr = sf.read(raw, dtype="float32")
        if sr != 16000:
            audio = soxr.resample(audio, sr, 16000)
        wav = d / f"f{i}.wav"
        sf.write(wav, audio, 16000, subtype="PCM_16")
        ends = [(p.split(":")[0], float(p.split(":")[1])) for p in out.stdout.split()]
        rows.append({"utt_id": f"f{i}", "audio_path": str(wav), "speaker": "slt", "transcript": text, "psdur": ends})
    return pd.DataFrame(rows)


def test_pocketsphinx_aligns_synthesized_speech(flite_utterances, tmp_path, monkeypatch):
    # the bundled dictionary holds all of cmudict's words: stand in a cmudict that knows an
    # invented word to check the extension path
    monkeypatch.setattr("speechneurons.align.pocketsphinx._CMUDICT", {"zeugmo": [["Z", "UW1", "G", "M", "OW0"]]})
    flite_utterances = flite_utterances.assign(transcript=flite_utterances.transcript.str.replace("zeugma", "zeugmo"))
    rep = align_rows(flite_utterances, pocketsphinx_align_fn(), tmp_path / "s")
    assert list(rep.status) == ["aligned", "aligned"], rep.reason.tolist()
    duration, words, phones = read_alignment_textgrid(tmp_path / "s" / "textgrids" / "f0.TextGrid")
    assert [w for _, _, w in words if w] == ["the", "cat", "sat", "on", "the", "mat", "near", "the", "window"]
    labels = [p for _, _, p in phones if p]
    assert labels[:6] == ["DH", "AH", "K", "AE", "T", "S"]
    # 'zeugmo' is not in the pocketsphinx dictionary: it was added from (the stand-in) cmudict
    _, words1, phones1 = read_alignment_textgrid(tmp_path / "s" / "textgrids" / "f1.TextGrid")
    assert "zeugmo" in [w for _, _, w in words1]
    assert [p for _, _, p in phones1 if p][-5:] == ["Z", "UW", "G", "M", "OW"]
    # the end of the first 'the' lies near flite's own boundary (end of 'ax' after 'dh')
    flite_end = [t for p, t in flite_utterances.psdur[0] if p != "pau"][1]
    ps_end = [e for _, e, w in words if w == "the"][0]
    assert abs(ps_end - flite_end) < 0.06


def test_pocketsphinx_unknown_word_and_failure(flite_utterances):
    import soundfile as sf

    audio, _ = sf.read(flite_utterances.audio_path[0], dtype="float32")
    aligner = PocketsphinxAligner(beams=[{"beam": 1e-48, "wbeam": 7e-29, "pbeam": 1e-48}])
    with pytest.raises(AlignmentFailed):
        aligner.align(audio, "completely different words that cannot possibly fit this audio at all ever again")
    align = pocketsphinx_align_fn()
    row = flite_utterances.iloc[0].copy()
    row["transcript"] = "the qzxwv cat"
    with pytest.raises(BadInputError, match="qzxwv"):
        align(next(pd.DataFrame([row]).itertuples(index=False)))


# --------------------------------------------------------------------------- fit (issue 17, item 1)

FIT = dict(edge_silence_s=0.25, fit_min_score=-35, fit_max_quiet_share=0.5)
OTHER_WORDS = "my bright father wanted a big orange"  # aligns to 'The cat sat on the mat ...', badly


def _rows(flite_utterances, tmp_path, **changes):
    """The first flite utterance, with its audio or transcript changed."""
    import soundfile as sf

    row = flite_utterances.iloc[[0]].copy()
    if "audio" in changes:
        path = tmp_path / "changed.wav"
        sf.write(path, changes["audio"], 16000, subtype="PCM_16")
        row["audio_path"] = str(path)
    if "transcript" in changes:
        row["transcript"] = changes["transcript"]
    return row


def test_digital_silence_with_a_transcript_does_not_fit(flite_utterances, tmp_path):
    """2 s of digital silence with a three-word transcript was reported 'aligned' (one phone
    stretched over 1.7 s) and its frames entered the dump and the statistics."""
    import numpy as np

    rows = _rows(flite_utterances, tmp_path, audio=np.zeros(32000, dtype=np.float32), transcript="the cat sat")
    with pytest.raises(
        BadInputError, match=r"does not fit the audio.*(100 % of the speech phones' frames are quiet|no speech)"
    ):
        align_rows(rows, pocketsphinx_align_fn(None, 16000, **FIT), tmp_path / "e")
    rep = align_rows(rows, pocketsphinx_align_fn(None, 16000, **FIT), tmp_path / "s", on_bad_input="skip")
    assert list(rep.status) == ["failed"] and "does not fit" in rep.reason.iloc[0]
    # without the optional edge silence the phones lie on the silence itself: all quiet
    rep = align_rows(rows, pocketsphinx_align_fn(None, 16000, 0.0, -35, 0.5), tmp_path / "s0", on_bad_input="skip")
    assert list(rep.status) == ["failed"] and rep.quiet_speech_share.iloc[0] == 1.0
    assert not list((tmp_path / "s" / "textgrids").iterdir())


def test_a_transcript_of_other_words_does_not_fit(flite_utterances, tmp_path):
    """A transcript that does not match the audio was aligned without complaint."""
    rows = _rows(flite_utterances, tmp_path, transcript=OTHER_WORDS)
    rep = align_rows(rows, pocketsphinx_align_fn(None, 16000, **FIT), tmp_path / "s", on_bad_input="skip")
    assert list(rep.status) == ["failed"], rep.to_dict("records")
    assert "acoustic score" in rep.reason.iloc[0] and rep.score_per_frame.iloc[0] < -35
    ok = align_rows(flite_utterances.iloc[[0]], pocketsphinx_align_fn(None, 16000, **FIT), tmp_path / "ok")
    assert list(ok.status) == ["aligned"] and (ok.score_per_frame > -20).all()
    assert (ok.quiet_speech_share < 0.5).all()


def test_error_mode_lists_every_misfit_of_a_shard(flite_utterances, tmp_path):
    import numpy as np

    rows = pd.concat(
        [
            _rows(flite_utterances, tmp_path, transcript=OTHER_WORDS).assign(utt_id="wrong"),
            _rows(flite_utterances, tmp_path, audio=np.zeros(32000, np.float32), transcript="the cat sat").assign(
                utt_id="silent"
            ),
        ]
    )
    with pytest.raises(BadInputError) as e:
        align_rows(rows, pocketsphinx_align_fn(None, 16000, **FIT), tmp_path / "e")
    assert "utterance wrong:" in str(e.value) and "utterance silent:" in str(e.value)


def test_leading_silence_is_not_swallowed_by_the_first_phone(flite_utterances, tmp_path):
    """On real recordings the first phone started at 0.00 s in 91 of 120 utterances, swallowing
    the ~50 ms of leading silence: the decoder had no room for its start silence."""
    import numpy as np
    import soundfile as sf

    audio, _ = sf.read(flite_utterances.audio_path[0], dtype="float32")
    energy = np.convolve(audio**2, np.ones(160) / 160, "same")
    loud = energy > 1e-4 * energy.max()
    core = audio[np.argmax(loud) : len(audio) - np.argmax(loud[::-1])]
    lead = np.random.default_rng(0).standard_normal(800).astype(np.float32) * 3e-4  # 50 ms
    rows = _rows(flite_utterances, tmp_path, audio=np.concatenate([lead, core, lead]))

    def first_phone_start(edge):
        out = tmp_path / f"edge{edge}"
        align_rows(rows, pocketsphinx_align_fn(None, 16000, edge, -35, 0.5), out)
        duration, _, phones = read_alignment_textgrid(out / "textgrids" / f"{rows.utt_id.iloc[0]}.TextGrid")
        assert phones[0][0] == 0.0 and phones[-1][1] == pytest.approx(duration)
        return next(start for start, _, label in phones if label)

    assert first_phone_start(0.0) == 0.0  # the old behaviour
    assert 0.01 <= first_phone_start(0.25) <= 0.07


def test_leading_silence_of_a_noisy_recording_is_not_swallowed(flite_utterances, tmp_path):
    """Debian's recorded prompts (background noise about -60 dBFS, 30-280 ms of leading silence):
    padded with quieter dither (-80 dBFS), the decoder put its start silence in the padding and
    the first phone began at 0.00 s; padded at the recording's own background level, it does not."""
    import numpy as np
    import soundfile as sf

    from speechneurons.align.pocketsphinx import background_level

    audio, _ = sf.read(flite_utterances.audio_path[0], dtype="float32")
    energy = np.convolve(audio**2, np.ones(160) / 160, "same")
    loud = energy > 1e-4 * energy.max()
    core = audio[np.argmax(loud) : len(audio) - np.argmax(loud[::-1])]
    lead = np.zeros(1280, dtype=np.float32)  # 80 ms
    noisy = np.concatenate([lead, core, lead])
    noisy += np.random.default_rng(1).standard_normal(len(noisy)).astype(np.float32) * 1e-3
    assert background_level(noisy) == pytest.approx(1e-3, rel=0.3)
    rows = _rows(flite_utterances, tmp_path, audio=noisy)
    align_rows(rows, pocketsphinx_align_fn(None, 16000, 0.25, -35, 0.5), tmp_path / "out")
    _, _, phones = read_alignment_textgrid(tmp_path / "out" / "textgrids" / f"{rows.utt_id.iloc[0]}.TextGrid")
    assert 0.04 <= next(start for start, _, label in phones if label) <= 0.11


def test_an_alignment_does_not_depend_on_the_utterances_before_it(flite_utterances):
    """The decoder's front end carried its state from one utterance to the next: the same
    recording aligned twice gave two alignments, so the alignments depended on align.shards."""
    import numpy as np
    import soundfile as sf

    clean, _ = sf.read(flite_utterances.audio_path[0], dtype="float32")
    audio = clean + np.random.default_rng(2).standard_normal(len(clean)).astype(np.float32) * 1e-3
    text = flite_utterances.transcript[0]
    aligner = PocketsphinxAligner(sample_rate=16000, edge_silence_s=0.25)
    first = aligner.align(audio, text)
    noisy = clean + np.random.default_rng(3).standard_normal(len(clean)).astype(np.float32) * 3e-2
    aligner.align(noisy, text)
    assert aligner.align(audio, text) == first
    assert PocketsphinxAligner(sample_rate=16000, edge_silence_s=0.25).align(audio, text) == first
