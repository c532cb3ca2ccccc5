"""Frame selection, the activation dump and its index (tiny random models, synthetic audio)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
import transformers

from speechneurons.activations.dump import dump_activations
from speechneurons.activations.index import INDEX_COLUMNS, build_index
from speechneurons.activations.selection import select_frames
from speechneurons.errors import BadInputError
from speechneurons.frames import FrameGrid
from speechneurons.model.ffn import capture_ffn
from speechneurons.model.registry import load_model
from tests.helpers.models import tiny_config


def array_paths(folder, layers):
    """Paths of the dumped arrays in the workflow's layout: <folder>/layer-<L>/<subset>.npy."""
    return {
        (layer, subset): folder / f"layer-{layer}" / f"{subset}.npy" for layer in layers for subset in ("mid", "sample")
    }


def load_layer(folder, layer, subset):
    return np.load(folder / f"layer-{layer}" / f"{subset}.npy", mmap_mode="r")


PHONES = ["sil", "AH", "S", "T", "IY", "spn", "N"]


def make_corpus(root, lengths, seed=0, short=()):
    """Wavs + manifest + frame labels + pitch frames on the base frame grid."""
    rng = np.random.default_rng(seed)
    grid = FrameGrid()
    man, lab, pit = [], [], []
    for i, n in enumerate(list(lengths) + list(short)):
        utt = f"spk{i % 2}-utt{i:02d}"
        path = root / f"{utt}.wav"
        sf.write(path, (0.1 * rng.normal(size=n)).astype(np.float32), 16000, subtype="PCM_16")
        man.append(
            dict(
                utt_id=utt,
                audio_path=str(path),
                speaker=f"spk{i % 2}",
                gender="FM"[i % 2],
                duration_s=n / 16000,
                sample_rate=16000,
                transcript="x",
                split="train" if i % 3 else "test",
            )
        )
        nf = grid.num_frames(n)
        phones = [PHONES[(f // 3) % len(PHONES)] for f in range(nf)]
        for f in range(nf):
            lab.append(dict(utt_id=utt, frame=f, phone=phones[f], word="w", is_mid=f % 3 == 1))
            voiced = f % 4 != 0
            pit.append(
                dict(
                    utt_id=utt,
                    frame=f,
                    f0_hz=100.0 + f if voiced else np.nan,
                    voiced=voiced,
                    pitch_bin=f % 3 if voiced else -1,
                )
            )
    return pd.DataFrame(man), pd.DataFrame(lab), pd.DataFrame(pit)


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("model")
    torch.manual_seed(0)
    transformers.HubertModel(tiny_config("hubert", layers=3, feat_extract_norm="layer")).save_pretrained(d)
    return d


def test_select_frames_mid_and_seeded_sample():
    labels = pd.DataFrame(
        dict(
            utt_id=["b"] * 6 + ["a"] * 4,
            frame=list(range(6)) + list(range(4)),
            phone=["sil", "AH", "AH", "spn", "S", "S", "T", "T", "IY", "sil"],
            is_mid=[1, 1, 0, 1, 0, 1, 1, 0, 1, 1],
        )
    )
    manifest = pd.DataFrame(dict(utt_id=["b", "a"]))
    sel = select_frames(labels, manifest, sample_frames=5, seed=3)
    mid = sel[sel.subset == "mid"]
    assert list(zip(mid.utt_id, mid.frame)) == [("b", 1), ("b", 5), ("a", 0), ("a", 2)]  # speech only
    assert list(mid.row) == [0, 1, 2, 3]
    sample = sel[sel.subset == "sample"]
    assert len(sample) == 5 and list(sample.row) == list(range(5))
    order = [("b", f) for f in range(6)] + [("a", f) for f in range(4)]
    pos = [order.index(x) for x in zip(sample.utt_id, sample.frame)]
    assert pos == sorted(pos) and len(set(pos)) == 5
    assert set(sel[sel.utt_id == "b"].n_label_frames) == {6}
    pd.testing.assert_frame_equal(sel, select_frames(labels, manifest, 5, 3))
    assert not sel.equals(select_frames(labels, manifest, 5, 4))
    assert len(select_frames(labels, manifest, 100, 0).query("subset == 'sample'")) == 10


def test_dump_rows_line_up_with_index_and_single_forward(tmp_path, tiny_model_dir):
    """Row r of every layer's array is the activation of index row r's (utt_id, frame)."""
    lengths = [16000, 15000, 9000, 8800, 30000, 4000]
    manifest, labels, pitch = make_corpus(tmp_path, lengths, short=[300])
    loaded = load_model(str(tiny_model_dir), device="cpu")
    sel = select_frames(labels, manifest, sample_frames=60, seed=0)
    out = tmp_path / "acts"
    report = dump_activations(
        loaded,
        manifest,
        sel,
        array_paths(out, [1, 3]),
        batch_seconds=2.0,
        max_pad_ratio=1.2,
        on_bad_input="skip",
        progress=False,
    )
    assert report.n_utterances == 6 and len(report.skipped) == 1
    skipped = report.skipped
    assert list(skipped.utt_id) == ["spk0-utt06"] and "shorter than one frame" in skipped.reason[0]
    assert not (out / "layer-2").exists()
    index = build_index(sel, labels, pitch, manifest)
    assert list(index["mid"].columns) == INDEX_COLUMNS
    # reference: each utterance alone
    ref = {}
    for utt, path in zip(manifest.utt_id[:6], manifest.audio_path[:6]):
        x, mask = loaded.prepare_batch([sf.read(path, dtype="float32")[0]])
        with torch.no_grad(), capture_ffn(loaded.model, [1, 3]) as cap:
            loaded.model(x, attention_mask=mask)
        ref[utt] = {l: cap[l][0].numpy() for l in (1, 3)}
    for subset in ("mid", "sample"):
        idx = index[subset]
        for layer in (1, 3):
            arr = load_layer(out, layer, subset)
            assert isinstance(arr, np.memmap) and arr.dtype == np.float16
            assert arr.shape == (len(idx), 64)
            expected = np.stack([ref[u][layer][f] for u, f in zip(idx.utt_id, idx.frame)])
            np.testing.assert_allclose(arr.astype(np.float32), expected, rtol=2e-3, atol=2e-3)
    mid = index["mid"]
    assert mid.is_mid.all() and set(mid.phone) <= {"AH", "S", "T", "IY", "N"}
    row = mid.iloc[5]
    lab = labels.set_index(["utt_id", "frame"]).loc[(row.utt_id, row.frame)]
    assert row.phone == lab.phone
    assert row.speaker == manifest.set_index("utt_id").speaker[row.utt_id]
    assert (index["sample"].pitch_bin.isin([-1, 0, 1, 2])).all()


def test_activations_do_not_depend_on_batching(tmp_path):
    """A group-normalised conv stack (HuBERT/wav2vec 2.0 base, the tiny HuBERT) sees the zero
    padding of a batch: the padded forward that the dump used to do changes the top neurons of
    padded utterances. The dump runs the front-end per utterance and the transformer batched
    with the mask: every row equals the utterance forwarded alone."""
    torch.manual_seed(1)
    transformers.HubertModel(tiny_config("hubert", layers=2)).save_pretrained(tmp_path / "m")
    lengths = [24000, 21000, 19500, 17000, 9000]
    manifest, labels, pitch = make_corpus(tmp_path, lengths)
    loaded = load_model(str(tmp_path / "m"), device="cpu")
    sel = select_frames(labels, manifest, sample_frames=10_000, seed=0)
    dump_activations(loaded, manifest, sel, array_paths(tmp_path / "a", [1, 2]), batch_seconds=100,
                     max_pad_ratio=3.0, progress=False)  # fmt: skip
    waves = [sf.read(p, dtype="float32")[0] for p in manifest.audio_path]
    alone, padded = {}, {}
    with torch.no_grad(), capture_ffn(loaded.model) as cap:
        for utt, w in zip(manifest.utt_id, waves):
            x, mask = loaded.prepare_batch([w])
            loaded.model(x, attention_mask=mask)
            alone[utt] = {l: cap[l][0].numpy() for l in (1, 2)}
        x, mask = loaded.prepare_batch(waves)  # the old dump: one padded forward of the whole batch
        loaded.model(x, attention_mask=mask)
        for b, utt in enumerate(manifest.utt_id):
            padded[utt] = {l: cap[l][b].numpy() for l in (1, 2)}
    rows = sel[sel.subset == "sample"].sort_values("row")
    for layer in (1, 2):
        arr = load_layer(tmp_path / "a", layer, "sample").astype(np.float32)
        expected = np.stack([alone[u][layer][f] for u, f in zip(rows.utt_id, rows.frame)])
        old = np.stack([padded[u][layer][f] for u, f in zip(rows.utt_id, rows.frame)])
        np.testing.assert_allclose(arr, expected, rtol=2e-3, atol=2e-3)  # float16 rounding only
        shorter = rows.utt_id.isin(manifest.utt_id[1:]).to_numpy()  # padded in the old batch
        assert np.abs(old - expected)[shorter].max() > 0.05  # the old way was not exact
        top_new = np.argsort(-np.abs(arr), axis=1)[:, :3]
        top_alone = np.argsort(-np.abs(expected), axis=1)[:, :3]
        assert np.mean([set(a) == set(b) for a, b in zip(top_new, top_alone)]) > 0.98


def test_frame_count_mismatch_fails_clearly(tmp_path, tiny_model_dir):
    manifest, labels, pitch = make_corpus(tmp_path, [8000, 6000])
    labels = labels[~((labels.utt_id == manifest.utt_id[1]) & (labels.frame == 0))]
    sel = select_frames(labels, manifest, 10, 0)
    loaded = load_model(str(tiny_model_dir), device="cpu")
    with pytest.raises(BadInputError, match="frame labels of spk1-utt01 have 17"):
        dump_activations(loaded, manifest, sel, array_paths(tmp_path / "a", [1]), progress=False)
    assert not (tmp_path / "a" / "layer-1" / "mid.npy").exists()
    assert not list((tmp_path / "a").rglob("*.tmp*"))


def test_short_audio_errors_without_skip(tmp_path, tiny_model_dir):
    manifest, labels, pitch = make_corpus(tmp_path, [8000], short=[100])
    loaded = load_model(str(tiny_model_dir), device="cpu")
    with pytest.raises(BadInputError, match="on_bad_input: skip"):
        dump_activations(
            loaded,
            manifest,
            select_frames(labels, manifest, 10, 0),
            array_paths(tmp_path / "a", [1]),
            on_bad_input="error",
            progress=False,
        )


def test_index_missing_pitch_rows_fail(tmp_path):
    manifest, labels, pitch = make_corpus(tmp_path, [8000])
    sel = select_frames(labels, manifest, 100, 0)
    with pytest.raises(BadInputError, match="no pitch row"):
        build_index(sel, labels, pitch.iloc[:-3], manifest)


def test_bound_heap_on_glibc():
    import platform

    from speechneurons.activations.dump import bound_heap

    assert bound_heap() is (platform.libc_ver()[0] == "glibc")


def test_dump_removes_the_temporaries_of_an_interrupted_dump(tmp_path, tiny_model_dir):
    """kill -9 during a dump left hidden .npy temporaries beside its outputs forever (gigabytes
    on LibriSpeech with a base model); the next dump of the same outputs removes them."""
    manifest, labels, pitch = make_corpus(tmp_path, [8000, 6000])
    sel = select_frames(labels, manifest, 10, 0)
    paths = array_paths(tmp_path / "a", [1])
    stale = []
    for path in paths.values():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        stale.append(Path(path).parent / f".{Path(path).name}.k1ll3d.tmp.npy")
        stale[-1].write_bytes(b"\0" * 1024)
    other = tmp_path / "a" / "layer-1" / ".other.npy.x.tmp.npy"  # not an output of this dump
    other.write_bytes(b"")
    loaded = load_model(str(tiny_model_dir), device="cpu")
    dump_activations(loaded, manifest, sel, paths, progress=False)
    assert not [p for p in stale if p.exists()]
    assert other.exists()
    assert all(Path(p).exists() for p in paths.values())


def test_one_subset_per_pass_gives_the_arrays_of_a_dump_of_both(tmp_path, tiny_model_dir):
    """The middle-frame and sample arrays come from separate passes (activations_dump and
    activations_sample), so that recomputing the SAEs' temporary sample arrays never rewrites
    the middle-frame arrays; each pass writes what a dump of both subsets writes."""
    manifest, labels, pitch = make_corpus(tmp_path, [8000, 6000])
    sel = select_frames(labels, manifest, 10, 0)
    loaded = load_model(str(tiny_model_dir), device="cpu")
    both = array_paths(tmp_path / "both", [1, 2])
    dump_activations(loaded, manifest, sel, both, progress=False)
    for subset in ("mid", "sample"):
        one = {k: v for k, v in array_paths(tmp_path / subset, [1, 2]).items() if k[1] == subset}
        dump_activations(loaded, manifest, sel, one, progress=False)
        assert sorted(p.name for p in (tmp_path / subset).rglob("*.npy")) == [f"{subset}.npy"] * 2
        for key, path in one.items():
            assert np.array_equal(np.load(path), np.load(both[key]))
    with pytest.raises(ValueError, match="every layer of each subset"):
        dump_activations(loaded, manifest, sel, {(1, "mid"): both[1, "mid"], (2, "sample"): both[2, "sample"]})
