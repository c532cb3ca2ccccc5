"""One layer end to end on the fake corpus: tables on disk and the browser with its snippets."""

import base64
import io
import json
import re

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from speechneurons.dissection.browser import cut_snippet, write_browser
from speechneurons.dissection.describe import phone_items, utterance_items
from speechneurons.dissection.dissect import dissect_layer, write_layer
from speechneurons.dissection.items import utterance_means
from speechneurons.io import read_json, read_table
from tests.helpers.dissection import make_corpus, planted_activations, settings


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("dissect")
    c = make_corpus(root / "corpus")
    phones = phone_items(c.index, c.frames, c.audio_paths, c.grid, 3, 3, c.pitch_frames)
    acts = planted_activations(phones.table)
    s = settings(similarity="cos3")
    um = utterance_means(acts, phones.table["utt_id"])
    utts = utterance_items(list(um.utt_ids), c.manifest, phones, 3)
    out = {}
    for items, a in ((phones, acts), (utts, um.means)):
        d = dissect_layer(a, items, s, layer=2)
        out[items.kind] = write_layer(d, items, root / f"layer-2-{items.kind}", s)
    return root, c, phones, utts, s, out


def test_layer_tables(run):
    root, c, phones, utts, s, out = run
    n = read_table(root / "layer-2-phone" / "neurons.tsv")
    assert len(n) == 8 and n["kind"].eq("phone").all()
    assert n.loc[0, "concepts"].split(";")[0] == "phone_type=vowel"
    assert n.loc[0, "description"].startswith("fires on") and "vowels" in n.loc[0, "description"]
    top0 = n.loc[0, "top_items"].split(";")
    assert len(top0) == 5 and all(phones.table.set_index("item_id").loc[top0, "phone_type"] == "vowel")
    assert n.loc[1, "description"].count("female") == 1
    sim = np.load(root / "layer-2-phone" / "similarity.npz")
    assert sim["similarity"].shape == (8, len(sim["concepts"]))
    summary = read_json(root / "layer-2-phone" / "summary.json")
    assert summary["k"] == 5 and 0 <= summary["uninterpretable_share"] <= 1
    assert len(summary["uninterpretable_null"]) == s.agreement.n_permutations
    u = read_table(root / "layer-2-utterance" / "neurons.tsv")
    assert u.loc[1, "concepts"].split(";")[0] == "gender=F"  # the female neuron, on utterance means
    assert out["utterance"]["n_items"] == 16


@pytest.mark.parametrize("embed", [False, True])
def test_browser(run, embed, tmp_path):
    root, c, phones, utts, s, out = run
    neurons = pd.concat([read_table(root / f"layer-2-{k}" / "neurons.tsv") for k in ("phone", "utterance")])
    shared = pd.concat([read_table(root / f"layer-2-{k}" / "shared.tsv") for k in ("phone", "utterance")])
    items = pd.concat([phones.table.assign(kind="phone"), utts.table.assign(kind="utterance")])
    bs = settings(browser={"embed": embed, "codec": "opus" if embed else "wav_u8", "sample_rate": 8000}).browser
    info = write_browser(tmp_path / "browser", neurons, shared, items, c.audio_paths, bs, title="test <layer>")
    page = (tmp_path / "browser" / "index.html").read_text()
    assert "<title>test &lt;layer&gt;</title>" in page
    doc = json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>', page, re.S).group(1))
    assert set(doc["layers"]["2"]) == {"phone", "utterance"} and len(doc["layers"]["2"]["phone"]) == 8
    rec = doc["layers"]["2"]["phone"][0]
    assert rec[5][0] == "phone_type=vowel" and len(rec[7]) == 5
    caption, url, kind = doc["items"][rec[7][0]]
    assert caption.startswith(
        phones.table.set_index("item_id").loc[neurons.iloc[0]["top_items"].split(";")[0], "phone"]
    )
    if embed:
        assert url.startswith("data:audio/ogg;base64,") and not (tmp_path / "browser" / "snippets").exists()
        audio, sr = sf.read(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
        assert sr == 8000 and len(audio) == pytest.approx(0.3 * 8000, abs=400)  # opus pads a little
    else:
        audio, sr = sf.read(tmp_path / "browser" / url)
        info_wav = sf.info(tmp_path / "browser" / url)
        assert sr == 8000 and info_wav.subtype == "PCM_U8" and len(audio) == pytest.approx(0.3 * 8000, abs=2)
        assert info["n_files"] == info["n_items"] + 1
    assert info["n_items"] == len(doc["items"]) <= 8 * 10 + 8 * 10


def test_cut_snippet_clips_at_the_edges_and_fades():
    audio = np.ones(16000, dtype=np.float32)
    x = cut_snippet(audio, 16000, 0.05, 0.3)  # 0.05 s from the start: only 0.2 s exist
    assert len(x) == 3200 and x[0] == 0 and x[1600] == 1
