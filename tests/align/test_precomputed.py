"""Backend 'textgrids': precomputed TextGrids in the shared LibriSpeech layout (and a flat folder),
written here from the synthesizer's own timings (the reference aligner), with the problems real
copies have: a missing file, a word mismatch, an unknown phone, a TextGrid of no utterance."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from speechneurons.align.alignment import align_rows, gather_shards, reference_align_fn
from speechneurons.align.frame_labels import build_frame_labels
from speechneurons.align.precomputed import (
    extra_textgrids,
    textgrids_align_fn,
    transcript_words,
    words_match,
)
from speechneurons.align.textgrid import read_alignment_textgrid, write_alignment_textgrid
from speechneurons.corpus.manifest import resolved_paths
from speechneurons.errors import BadInputError, BadInputErrors
from speechneurons.frames import FrameGrid
from tests.helpers.config import default_section
from tests.helpers.corpus import make_synth_utterances

STRESS = {"AH": "AH0", "IY": "IY1", "EH": "EH1", "AE": "AE1", "AO": "AO1", "ER": "ER0", "IH": "IH1"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Six synthesized utterances as LibriSpeech ids (speaker 1001, chapter 100), their manifest
    and the reference TextGrids."""
    out = make_synth_utterances(tmp_path_factory.mktemp("synth"), n=6)
    table = pd.read_csv(out / "utterances.tsv", sep="\t", dtype={"utt_id": str})
    table["audio_path"] = resolved_paths(table["audio_path"], out)  # stored relative to the table
    ids = {u: f"1001-100-{i:04d}" for i, u in enumerate(table.utt_id)}
    ref = out / "reference-ls"
    ref.mkdir()
    for old, new in ids.items():
        shutil.copy(out / "reference" / f"{old}.TextGrid", ref / f"{new}.TextGrid")
    manifest = table.assign(utt_id=table.utt_id.map(ids), speaker="1001", split="train")
    # LibriSpeech transcripts: upper case; a comma and a full stop that the TextGrid lacks
    manifest["transcript"] = manifest.transcript.str.upper().str.replace(" ", ", ", n=1) + "."
    return manifest, ref


def write_mfa_copy(manifest, ref, root, flat=False):
    """The reference timings as the shared MFA alignments of LibriSpeech: words in lower case,
    phones with stress, silence as 'sil' and empty labels, <root>/<speaker>/<chapter>/<utt>."""
    for utt in manifest.utt_id:
        duration, words, phones = read_alignment_textgrid(ref / f"{utt}.TextGrid")
        phones = [(s, e, STRESS.get(p, p) if p else "sil") for s, e, p in phones]
        spk, chapter, _ = utt.split("-")
        folder = root if flat else root / spk / chapter
        write_alignment_textgrid(folder / f"{utt}.TextGrid", duration, [(s, e, w.lower()) for s, e, w in words], phones)


def test_words_are_compared_without_case_punctuation_or_silence():
    assert transcript_words(["", "The", "sil", "cat's", "<unk>", "sp"]) == ["the", "cat's", "<unk>"]
    assert words_match(["the", "<unk>"], ["the", "zyx"]) and not words_match(["the"], ["the", "cat"])


@pytest.mark.parametrize("flat", [False, True])
def test_textgrids_match_the_reference_and_report_every_problem(corpus, tmp_path, flat):
    manifest, ref = corpus
    root = tmp_path / "alignments"
    write_mfa_copy(manifest, ref, root, flat)
    sub = (lambda u: root) if flat else (lambda u: root / "1001" / "100")
    utts = list(manifest.utt_id)
    (sub(utts[1]) / f"{utts[1]}.TextGrid").unlink()  # missing
    d, w, p = read_alignment_textgrid(sub(utts[2]) / f"{utts[2]}.TextGrid")
    w = [(s, e, "bananas" if i == 1 else x) for i, (s, e, x) in enumerate(w_ for w_ in w if w_[2])]
    write_alignment_textgrid(sub(utts[2]) / f"{utts[2]}.TextGrid", d, w, p)  # word mismatch
    d, w, p = read_alignment_textgrid(sub(utts[3]) / f"{utts[3]}.TextGrid")
    p = [(s, e, "XX1" if i == 3 else x) for i, (s, e, x) in enumerate(q for q in p if q[2])]
    write_alignment_textgrid(sub(utts[3]) / f"{utts[3]}.TextGrid", d, w, p)  # unknown phone
    shutil.copy(sub(utts[0]) / f"{utts[0]}.TextGrid", sub(utts[0]) / "1001-100-0099.TextGrid")  # extra
    shutil.copy(sub(utts[0]) / f"{utts[0]}.TextGrid", tmp_path / "9999-1-0001.TextGrid")  # another speaker's

    with pytest.raises(BadInputErrors) as err:  # error mode: every problem at once, the run stops
        align_rows(manifest, textgrids_align_fn(root), tmp_path / "err", on_bad_input="error")
    msg = str(err.value)
    assert "3 inputs cannot be used" in msg and "(missing)" in msg
    assert "word 2 is 'bananas' in the TextGrid" in msg and "unknown phone 'XX1'" in msg

    shard = tmp_path / "shard"
    align_rows(manifest, textgrids_align_fn(root), shard, on_bad_input="skip")
    extra = extra_textgrids(root, manifest)
    assert extra == ["1001-100-0099"]
    report = gather_shards(
        [shard], manifest, tmp_path / "tg", tmp_path / "report.tsv", tmp_path / "failed.tsv", "skip", 0.05, extra, "x"
    )
    counts = report.status.value_counts().to_dict()
    assert counts == {"aligned": 3, "failed": 3, "extra": 1}
    reasons = dict(zip(report.utt_id, report.reason))
    assert "(missing)" in reasons[utts[1]] and "bananas" in reasons[utts[2]] and "XX1" in reasons[utts[3]]

    # phones mapped to the 39-phone set with stress stripped, silence as empty labels
    _, _, phones = read_alignment_textgrid(tmp_path / "tg" / f"{utts[0]}.TextGrid")
    assert {p for _, _, p in phones} <= set(read_phones(ref / f"{utts[0]}.TextGrid")) | {""}

    # frame labels agree with the reference aligner's on the same utterances
    ref_shard = tmp_path / "ref-shard"
    align_rows(manifest, reference_align_fn(ref), ref_shard, on_bad_input="skip")
    grid = FrameGrid.from_config(default_section("frames"))
    failed = report.utt_id[report.status == "failed"]
    ours, _ = build_frame_labels(manifest, tmp_path / "tg", grid, failed)
    theirs, _ = build_frame_labels(manifest, ref_shard / "textgrids", grid, failed)
    assert len(ours) == len(theirs) > 0
    agreement = float(np.mean(ours.phone.to_numpy() == theirs.phone.to_numpy()))
    print(f"frame-label agreement textgrids vs reference: {100 * agreement:.2f} % of {len(ours)} frames")
    assert agreement == 1.0
    assert (ours.word.to_numpy() == theirs.word.to_numpy()).all()


def read_phones(path):
    return [p for _, _, p in read_alignment_textgrid(path)[2]]


def test_root_missing_or_unset_and_a_duration_mismatch(corpus, tmp_path):
    manifest, ref = corpus
    with pytest.raises(BadInputError, match="align.textgrids.root is not set"):
        textgrids_align_fn("")
    with pytest.raises(BadInputError, match="does not exist"):
        textgrids_align_fn(tmp_path / "nowhere")
    write_mfa_copy(manifest.head(1), ref, tmp_path / "a")
    row = next(manifest.head(1).assign(duration_s=manifest.duration_s.iloc[0] + 1.0).itertuples(index=False))
    with pytest.raises(BadInputError, match="lasts"):
        textgrids_align_fn(tmp_path / "a")(row)
