"""One layer end to end on the fake corpus: selection on train items only, tables on disk, the
agreement with planted property neurons, and the browser with its snippets."""

import base64
import io
import json
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from speechneurons.dissection.browser import cut_snippet, write_browser
from speechneurons.dissection.describe import phone_items, read_items, utterance_items, write_items
from speechneurons.dissection.dissect import dissect_dump_layer, write_layer
from speechneurons.dissection.scoring import property_truth
from speechneurons.dissection.tables import browser_neurons, summary_table
from speechneurons.io import read_json, read_table
from tests.helpers.dissection import browser_settings, make_corpus, planted_activations, settings

#: neurons.json of the planted neurons: 0 fires on vowels, 1 on female speakers, 2 at high pitch
NEURONS = {
    "exclusive_group_neurons": {
        "phone_type": {"vowel": [0], "voiced_consonant": [], "unvoiced_consonant": [3]},
        "gender": {"F": [1], "M": []},
        "pitch": {"0": [], "1": [], "2": [2]},
    }
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("dissect")
    c = make_corpus(root / "corpus")
    phones = phone_items(c.index, c.frames, c.audio_paths, c.grid, 3, 3, c.pitch_frames)
    utts = utterance_items(list(pd.unique(phones.table["utt_id"])), c.manifest, phones, 3)
    for items in (phones, utts):  # through the files, as the workflow reads them
        write_items(items, root / f"{items.kind}.parquet", root / f"{items.kind}.json")
    phones, utts = (read_items(root / f"{k}.parquet", root / f"{k}.json") for k in ("phone", "utterance"))
    acts = planted_activations(phones.table)
    s = settings(n_permutations=20)
    tables = dissect_dump_layer(acts, phones, utts, property_truth(NEURONS, 3), s, layer=2, tau=1, level=0.95)
    paths = {name: root / f"layer-2-{name}" for name in ("neurons", "shared", "similarity", "agreement", "summary")}
    paths |= {"neurons": root / "neurons.tsv", "shared": root / "shared.tsv", "agreement": root / "agreement.tsv",
              "similarity": root / "similarity.npz", "summary": root / "summary.json"}  # fmt: skip
    write_layer(tables, **paths)
    return root, c, phones, utts, s, paths


def test_layer_tables(run):
    root, c, phones, utts, s, paths = run
    n = read_table(paths["neurons"])
    p, u = n[n["kind"] == "phone"].set_index("neuron"), n[n["kind"] == "utterance"].set_index("neuron")
    assert len(p) == len(u) == 8
    assert p.loc[0, "concepts"].split(";")[0] == "phone_type=vowel"
    assert p.loc[0, "description"].startswith("fires on") and "vowels" in p.loc[0, "description"]
    assert p.loc[0, "property_group"] == "phone_type=vowel" and p.loc[5, "property_group"] != p.loc[5, "property_group"]
    top0 = p.loc[0, "top_items"].split(";")
    table = phones.table.set_index("item_id")
    assert len(top0) == 5 and all(table.loc[top0, "phone_type"] == "vowel")
    assert p.loc[1, "description"].count("female") == 1
    assert u.loc[1, "concepts"].split(";")[0] == "gender=F"  # the female neuron, on utterance means
    assert p["activation_rate"].between(0, 1).all() and p["activation_rate"].sum() == pytest.approx(1.0)
    sim = np.load(paths["similarity"])
    assert sim["phone__similarity"].shape == (8, len(sim["phone__concepts"]))
    summary = read_json(paths["summary"])
    assert summary["kinds"]["phone"]["n_items"] == (phones.table["split"] == "train").sum()
    assert len(summary["kinds"]["phone"]["uninterpretable_null"]) == 20
    assert summary["kinds"]["utterance"]["n_items"] == 12 and summary["kinds"]["utterance"]["n_held_out"] == 4


def test_only_the_selecting_split_selects(run):
    root, c, phones, utts, s, paths = run
    n = read_table(paths["neurons"])
    split = pd.concat([phones.table, utts.table]).drop_duplicates("item_id").set_index("item_id")["split"]
    for column in ("top_items", "bottom_items"):
        ids = [i for cell in n[column] for i in cell.split(";")]
        assert set(split.loc[ids]) == {"train"}, column


def test_agreement_of_planted_property_neurons(run):
    root, c, phones, utts, s, paths = run
    a = read_table(paths["agreement"])
    a = a[(a["kind"] == "phone") & (a["measure"] == "within")].set_index(["split", "property"])
    for split in ("selected", "held_out"):
        assert a.loc[(split, "phone_type"), "observed"] == 1.0 and a.loc[(split, "phone_type"), "n"] == 2
        assert a.loc[(split, "gender"), "observed"] == 1.0
    assert a.loc[("held_out", "phone_type"), "null_mean"] < 0.8
    assert a.loc[("selected", "phone_type"), "p"] <= 3 / 21  # chance of 2 of 2 within 3 groups: 1/9
    assert 1 / 21 <= a.loc[("held_out", "phone_type"), "p"] < 0.5  # 2 neurons, 32 held-out items: weak


def test_summary_table_and_browser_subset(run):
    root, c, phones, utts, s, paths = run
    t = summary_table([read_json(paths["summary"])])
    assert set(t["kind"]) == {"phone", "utterance"} and (t["chance_share"] >= t["chance_lo"]).all()
    n = read_table(paths["neurons"])
    chosen = browser_neurons(n, 1, property_neurons=True)
    phone = chosen[chosen["kind"] == "phone"]["neuron"].tolist()
    assert set(phone) >= {0, 1, 2, 3} and len(phone) <= 5  # the planted property neurons and the top one
    assert len(browser_neurons(n, 0, False)) == len(n)


@pytest.mark.parametrize("codec", ["opus", "wav_u8"])
def test_browser(run, codec, tmp_path):
    root, c, phones, utts, s, paths = run
    neurons, shared = read_table(paths["neurons"]), read_table(paths["shared"])
    items = pd.concat([phones.table.assign(kind="phone"), utts.table.assign(kind="utterance")])
    bs = browser_settings(codec=codec, sample_rate=8000)
    stats = {2: {"phone": "layer 2: 50% uninterpretable"}}
    page_path = tmp_path / "browser.html"
    info = write_browser(page_path, neurons, shared, items, c.audio_paths, bs, "test <layer>", stats=stats)
    page = page_path.read_text()
    assert "<title>test &lt;layer&gt;</title>" in page and info["bytes"] == page_path.stat().st_size
    doc = json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>', page, re.S).group(1))
    assert set(doc["layers"]["2"]) == {"phone", "utterance"} and len(doc["layers"]["2"]["phone"]) == 8
    assert doc["stats"]["2"]["phone"].startswith("layer 2")
    rec = doc["layers"]["2"]["phone"][0]
    assert rec[5][0] == "phone_type=vowel" and len(rec[7]) == 5 and rec[14] == "phone_type=vowel"
    by_neuron = {r[0]: r for r in doc["layers"]["2"]["phone"]}
    assert by_neuron[3][14] == "phone_type=unvoiced_consonant" and by_neuron[5][14] == ""  # no group: empty
    caption, url, kind = doc["items"][rec[7][0]]
    first = neurons[neurons["kind"] == "phone"].iloc[0]["top_items"].split(";")[0]
    assert caption.startswith(phones.table.set_index("item_id").loc[first, "phone"])
    mime = "audio/ogg" if codec == "opus" else "audio/wav"
    assert url.startswith(f"data:{mime};base64,")
    raw = io.BytesIO(base64.b64decode(url.split(",", 1)[1]))
    audio, sr = sf.read(raw)
    assert sr == 8000 and len(audio) == pytest.approx(0.3 * 8000, abs=400 if codec == "opus" else 2)
    if codec == "wav_u8":
        raw.seek(0)
        assert sf.info(raw).subtype == "PCM_U8"
    assert info["n_snippets"] == len(doc["items"]) <= 8 * 10 + 8 * 10 and info["n_cards"] == 16


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(not CHROMIUM, reason="no headless Chromium to open the page with")
def test_browser_page_opens_a_card_in_a_browser(run, tmp_path):
    """The page's script runs: opened at a card's address, the card is drawn (a headless browser)."""
    root, c, phones, utts, s, paths = run
    items = pd.concat([phones.table.assign(kind="phone"), utts.table.assign(kind="utterance")])
    page = tmp_path / "browser.html"
    write_browser(page, read_table(paths["neurons"]), read_table(paths["shared"]), items, c.audio_paths,
                  browser_settings(codec="wav_u8", sample_rate=8000))  # fmt: skip
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
             "--virtual-time-budget=3000", "--dump-dom"]  # fmt: skip
    url = page.as_uri() + "#layer=2&kind=utterance&neuron=1"
    proc = subprocess.run([CHROMIUM, *flags, url], capture_output=True, text=True, timeout=120)
    assert "Layer 2, neuron 1 (utterance items)" in proc.stdout, proc.stderr[-2000:]
    assert proc.stdout.count('<audio controls=""') == 10  # its 5 top and 5 bottom items, each with a player


def test_cut_snippet_clips_at_the_edges_and_fades():
    audio = np.ones(16000, dtype=np.float32)
    x = cut_snippet(audio, 16000, 0.05, 0.3)  # 0.05 s from the start: only 0.2 s exist
    assert len(x) == 3200 and x[0] == 0 and x[1600] == 1
