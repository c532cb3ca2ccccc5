"""The neuron browser: one self-contained HTML page with playable audio snippets.

The page holds the data of every dissected layer (one JSON block) and a small script: a
layer and item-kind selector, a table of all neurons (sortable by clicking a column header:
interpretability, shared values, top concept score, ...), and per neuron a card with its
description, top concepts and scores, the attribute values its top and bottom items share, and
its top and bottom items with their captions and a player each. A card has its own address,
``browser.html#layer=6&kind=phone&neuron=123``.

Each distinct item referenced by any card gets one snippet, cut once from the corpus audio:
a phone item ``snippet_ms`` centred on its middle frame, an utterance item its central
``utterance_snippet_ms``, with 5 ms fades, resampled to ``sample_rate`` (soxr) and encoded as
Ogg Opus (the default: about 1-2 kB for 300 ms) or WAV (8-bit unsigned or 16-bit PCM), and
embedded in the page as a base64 data URI: the page is one file, which Snakemake's HTML report
can carry (it shows it in a frame), and which opens anywhere without a server.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from tqdm import tqdm

from speechneurons.audio import load_audio
from speechneurons.dissection.settings import BrowserSettings
from speechneurons.io import write_text

log = logging.getLogger(__name__)

FADE_S = 0.005


def cut_snippet(audio: np.ndarray, sr: int, centre_s: float, length_s: float) -> np.ndarray:
    """Samples of [centre - length/2, centre + length/2) clipped to the audio, with linear fades."""
    n = len(audio)
    half = int(round(length_s * sr / 2))
    c = int(round(centre_s * sr))
    lo, hi = max(0, c - half), min(n, c + half)
    x = np.array(audio[lo:hi], dtype=np.float32)
    fade = min(int(FADE_S * sr), len(x) // 2)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade, endpoint=False, dtype=np.float32)
        x[:fade] *= ramp
        x[-fade:] *= ramp[::-1]
    return x


CODECS = {  # codec: (soundfile format, subtype, file suffix, MIME type)
    "opus": ("OGG", "OPUS", ".ogg", "audio/ogg"),
    "wav_u8": ("WAV", "PCM_U8", ".wav", "audio/wav"),
    "wav_16": ("WAV", "PCM_16", ".wav", "audio/wav"),
}


def encode_snippet(x: np.ndarray, sr_in: int, sr_out: int, codec: str, opus_compression: float) -> bytes:
    """Bytes of a mono float snippet, resampled to ``sr_out`` (soxr) and encoded with ``codec``."""
    if sr_out != sr_in:
        import soxr

        x = soxr.resample(x, sr_in, sr_out)
    fmt, subtype, _, _ = CODECS[codec]
    extra = {"compression_level": opus_compression} if codec == "opus" else {}
    buf = io.BytesIO()
    sf.write(buf, np.clip(x, -1.0, 1.0), sr_out, subtype=subtype, format=fmt, **extra)
    return fixed_ogg_serial(buf.getvalue()) if fmt == "OGG" else buf.getvalue()


def _ogg_crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


_OGG_CRC = _ogg_crc_table()


def _ogg_crc(page: bytes) -> int:
    crc = 0
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _OGG_CRC[(crc >> 24) ^ byte]
    return crc


def fixed_ogg_serial(data: bytes, serial: int = 1) -> bytes:
    """The Ogg stream ``data`` with the stream serial number of every page set to ``serial``
    (page checksums recomputed). libsndfile draws the serial at random, so the same audio gave
    other bytes every run; one stream per file needs no unique serial."""
    out = bytearray(data)
    pos = 0
    while pos + 27 <= len(out):
        if out[pos : pos + 4] != b"OggS":
            raise ValueError(f"not an Ogg page at byte {pos}")
        n_seg = out[pos + 26]
        length = 27 + n_seg + sum(out[pos + 27 : pos + 27 + n_seg])
        out[pos + 14 : pos + 18] = serial.to_bytes(4, "little")
        out[pos + 22 : pos + 26] = b"\0\0\0\0"
        out[pos + 22 : pos + 26] = _ogg_crc(bytes(out[pos : pos + length])).to_bytes(4, "little")
        pos += length
    return bytes(out)


def write_snippets(
    items: pd.DataFrame, audio_paths: Mapping[str, str | Path], settings: BrowserSettings, audio_sr: int = 16000
) -> list[str]:
    """One snippet per row of ``items`` (kind, utt_id, centre_s), each utterance's audio read
    once; returns each row's data URI."""
    urls = [""] * len(items)
    kinds, centres = items["kind"].to_numpy(), items["centre_s"].to_numpy(dtype=float)
    mime = CODECS[settings.codec][3]
    groups = items.groupby("utt_id", sort=False).indices.items()
    for utt, rows in tqdm(groups, desc="snippets", unit="utt", disable=None):
        audio = load_audio(audio_paths[utt], audio_sr)
        for r in rows:
            length = (settings.snippet_ms if kinds[r] == "phone" else settings.utterance_snippet_ms) / 1000
            x = cut_snippet(audio, audio_sr, float(centres[r]), length)
            data = encode_snippet(x, audio_sr, settings.sample_rate, settings.codec, settings.opus_compression)
            urls[r] = f"data:{mime};base64," + base64.b64encode(data).decode("ascii")
    return urls


def _ids(cell) -> list[str]:
    return [x for x in str(cell).split(";") if x]


def _floats(cell) -> list[float]:
    return [round(float(x), 4) for x in str(cell).split(";") if x]


def browser_data(neurons: pd.DataFrame, shared: pd.DataFrame, items: pd.DataFrame) -> tuple[dict, pd.DataFrame]:
    """The page's JSON document and the table of referenced items (their order = item numbers).

    ``neurons``: rows of neurons.tsv of every layer and kind (layer, kind, neuron, interpretable,
    n_shared, n_bottom_shared, concepts, scores, description, top_items, top_values,
    bottom_items, bottom_values; lists ';'-separated); ``shared``: shared.tsv rows with layer and
    kind; ``items``: item_id, kind, utt_id, centre_s, caption.
    """
    used: dict[tuple[str, str], int] = {}
    order: list[tuple[str, str]] = []

    def ref(kind: str, item_id: str) -> int:
        key = (kind, item_id)
        if key not in used:
            used[key] = len(order)
            order.append(key)
        return used[key]

    sh = {}
    for (layer, kind, j), g in shared.groupby(["layer", "kind", "neuron"], sort=False):
        cols = g[["side", "attribute", "value", "n_top", "n_bottom"]].itertuples(index=False)
        sh[(int(layer), kind, int(j))] = [[s, a, str(v), int(nt), int(nb)] for s, a, v, nt, nb in cols]
    layers: dict[str, dict[str, list]] = {}
    for r in neurons.itertuples(index=False):
        rec = [
            int(r.neuron),
            int(r.interpretable),
            int(r.n_shared),
            int(r.n_bottom_shared),
            str(r.description),
            str(r.concepts).split(";"),
            _floats(r.scores),
            [ref(r.kind, i) for i in _ids(r.top_items)],
            _floats(r.top_values),
            [ref(r.kind, i) for i in _ids(r.bottom_items)],
            _floats(r.bottom_values),
            sh.get((int(r.layer), r.kind, int(r.neuron)), []),
            int(getattr(r, "top_tied", 1)),
            int(getattr(r, "bottom_tied", 1)),
            _text(getattr(r, "property_group", "")),
            _rate(getattr(r, "activation_rate", np.nan)),
        ]
        layers.setdefault(str(int(r.layer)), {}).setdefault(r.kind, []).append(rec)
    lookup = items.set_index(["kind", "item_id"])
    missing = [k for k in order if k not in lookup.index]
    if missing:
        raise ValueError(f"{len(missing)} items of the neuron tables are not in the item tables (e.g. {missing[:3]})")
    used_items = lookup.loc[order].reset_index()
    doc = {
        "layers": layers,
        "items": [[c, "", k] for (k, _), c in zip(order, used_items["caption"])],
        "fields": [
            "neuron",
            "interpretable",
            "n_shared",
            "n_bottom_shared",
            "description",
            "concepts",
            "scores",
            "top",
            "top_values",
            "bottom",
            "bottom_values",
            "shared",
            "top_tied",
            "bottom_tied",
            "property_group",
            "activation_rate",
        ],
        "stats": {},
    }
    return doc, used_items


def _text(x) -> str:
    """A table cell as text, a missing value (None or NaN) as ''."""
    return "" if x is None or (isinstance(x, float) and x != x) else str(x)


def _rate(x) -> float | None:
    x = float(x)
    return round(x, 5) if np.isfinite(x) else None


def write_browser(
    path: str | Path,
    neurons: pd.DataFrame,
    shared: pd.DataFrame,
    items: pd.DataFrame,
    audio_paths: Mapping[str, str | Path],
    settings: BrowserSettings,
    title: str = "Neuron browser",
    audio_sr: int = 16000,
    stats: Mapping[str, Mapping[str, str]] | None = None,
) -> dict:
    """Write the page to ``path`` (atomically); return the counts of cards and snippets and its size.

    ``stats``: {layer: {kind: one line about the layer}} shown above its neuron list."""
    doc, used = browser_data(neurons, shared, items)
    doc["stats"] = {str(k): dict(v) for k, v in (stats or {}).items()}
    for rec, url in zip(doc["items"], write_snippets(used, audio_paths, settings, audio_sr)):
        rec[1] = url
    write_text(path, render_page(doc, title))
    info = {"n_cards": len(neurons), "n_snippets": len(used), "bytes": Path(path).stat().st_size}
    log.info("browser %s: %d cards, %d snippets, %.1f MB", path, info["n_cards"], info["n_snippets"],
             info["bytes"] / 1e6)  # fmt: skip
    return info


def render_page(doc: dict, title: str) -> str:
    """The HTML page around the JSON document (``</`` escaped so the data cannot close the script)."""
    data = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")
    return _PAGE.replace("__TITLE__", html.escape(title)).replace("__DATA__", data)


_PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;display:flex;flex-direction:column;height:100vh;font-size:13px}
header{padding:6px 10px;background:#23395d;color:#fff;display:flex;gap:14px;align-items:center}
header h1{font-size:16px;margin:0 12px 0 0}
main{flex:1;display:flex;min-height:0}
#list{flex:1.2;overflow:auto;border-right:1px solid #ccc}
#card{flex:1;overflow:auto;padding:8px 14px}
@media (max-width:1000px){main{flex-direction:column}#list{flex:0 0 40%;border-right:0;border-bottom:1px solid #ccc}}
td.group,td.top{max-width:10em;overflow-wrap:anywhere}td.desc{min-width:16em}
table{border-collapse:collapse;width:100%}
th{position:sticky;top:0;background:#e8edf4;cursor:pointer;text-align:left;padding:4px;white-space:nowrap}
td{padding:3px 4px;border-bottom:1px solid #eee;vertical-align:top}
tr:hover{background:#f3f7ff}tr.sel{background:#dbe7ff}
.no{color:#999}.yes{color:#1a7f37;font-weight:600}
.items td{font-size:12px}audio{height:26px;width:190px}
.concept{display:inline-block;background:#eef;border-radius:4px;padding:1px 6px;margin:2px}
h2{font-size:15px;margin:6px 0}h3{font-size:13px;margin:10px 0 4px}
.stats{color:#555}header .stats{color:#dfe8f5}
</style></head><body>
<header><h1>__TITLE__</h1>
<label>layer <select id="layer"></select></label>
<label>items <select id="kind"></select></label>
<label>filter <input id="filter" placeholder="words in description"></label>
<span id="stats" class="stats"></span></header>
<main><div id="list"><table><thead><tr>
<th data-k="0">neuron</th><th data-k="1">interpretable</th><th data-k="2">shared</th>
<th data-k="c">top concept</th><th data-k="s">score</th><th data-k="14">property group</th>
<th data-k="4">description</th>
</tr></thead><tbody id="rows"></tbody></table></div>
<div id="card"><p class="stats">Click a neuron.</p></div></main>
<script id="data" type="application/json">__DATA__</script>
<script>
const D=JSON.parse(document.getElementById('data').textContent);
const $=id=>document.getElementById(id);
const esc=s=>String(s).replace(/[&<>"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
let sortKey='s',sortDir=-1,current=null;
function fillSelect(sel,opts){sel.innerHTML=opts.map(o=>`<option>${esc(o)}</option>`).join('');}
fillSelect($('layer'),Object.keys(D.layers).sort((a,b)=>a-b));
function kinds(){fillSelect($('kind'),Object.keys(D.layers[$('layer').value]));}
function recs(){return D.layers[$('layer').value][$('kind').value]||[];}
function key(r,k){if(k==='c')return r[5][0]||'';if(k==='s')return r[6][0]??-1e9;return r[+k];}
function render(){
  const f=$('filter').value.toLowerCase();
  let rs=recs().filter(r=>!f||r[4].toLowerCase().includes(f));
  rs.sort((a,b)=>{const x=key(a,sortKey),y=key(b,sortKey);return (x<y?-1:x>y?1:0)*sortDir||a[0]-b[0];});
  const all=recs(),ni=all.filter(r=>r[1]).length,st=(D.stats[$('layer').value]||{})[$('kind').value]||'';
  $('stats').textContent=`${all.length} cards, ${ni} interpretable. ${st}`;
  $('rows').innerHTML=rs.map(r=>`<tr data-n="${r[0]}"${current===r[0]?' class="sel"':''}><td>${r[0]}</td>`+
    `<td class="${r[1]?'yes':'no'}">${r[1]?'yes':'no'}</td><td>${r[2]}</td><td class="top">${esc(r[5][0]||'')}</td>`+
    `<td>${r[6].length?r[6][0].toFixed(3):''}</td><td class="group">${esc(r[14])}</td>`+
    `<td class="desc">${esc(r[4])}</td></tr>`).join('');
}
function itemRows(ids,vals){return '<table class="items">'+ids.map((i,n)=>{const it=D.items[i];
  return `<tr><td>${vals[n].toFixed(3)}</td><td><audio controls preload="none" src="${it[1]}"></audio></td>`+
  `<td>${esc(it[0])}</td></tr>`;}).join('')+'</table>';}
function tie(n,vals){return n>1?` <span class="stats">(the last drawn from ${n} items tied at `+
  `${vals[vals.length-1].toFixed(4)}, in the seeded tie order)</span>`:'';}
function about(r){const rate=r[15]===null?'n/a':(100*r[15]).toFixed(2)+'%';
  return `property-neuron group: ${r[14]||'none'}; activation rate ${rate} of the train middle frames`+
    (r[13]>1&&r[4].includes('silent on')?'. "Silent on" is weak evidence here: the bottom items are drawn '+
     'from a tie.':'');}
function card(n){const r=recs().find(x=>x[0]===n);if(!r)return false;current=n;
  try{history.replaceState(null,'',`#layer=${$('layer').value}&kind=${$('kind').value}&neuron=${n}`);}
  catch(e){}  // a page shown from a data: address (the report's frame) has no history of its own
  const sh=side=>r[11].filter(s=>s[0]===side).map(s=>`<span class="concept">${esc(s[1]+'='+s[2])} `+
    `(${s[3]} top / ${s[4]} bottom)</span>`).join('')||'<span class="no">none</span>';
  $('card').innerHTML=`<h2>Layer ${esc($('layer').value)}, neuron ${n} (${esc($('kind').value)} items)</h2>`+
   `<p><b>${esc(r[4])}</b></p>`+
   `<p class="stats">${esc(about(r))}</p><h3>Top concepts</h3>`+
   r[5].map((c,i)=>`<span class="concept">${esc(c)}: ${r[6][i].toFixed(3)}</span>`).join('')+
   `<h3>Shared by the top items</h3>${sh('top')}<h3>Shared by the bottom items</h3>${sh('bottom')}`+
   `<h3>Top items${tie(r[12],r[8])}</h3>${itemRows(r[7],r[8])}`+
   `<h3>Bottom items${tie(r[13],r[10])}</h3>${itemRows(r[9],r[10])}`;
  render();return true;}
function best(){const f=[...recs()].sort((a,b)=>(b[6][0]??-1e9)-(a[6][0]??-1e9))[0];if(f)card(f[0]);else render();}
$('layer').onchange=()=>{kinds();current=null;best();};
$('kind').onchange=()=>{current=null;best();};
$('filter').oninput=render;
document.querySelectorAll('th').forEach(th=>th.onclick=()=>{const k=th.dataset.k;
  sortDir=(sortKey===k)?-sortDir:-1;sortKey=k;render();});
$('rows').onclick=e=>{const tr=e.target.closest('tr');if(tr)card(+tr.dataset.n);};
// a link to one card: index.html#layer=6&kind=phone&neuron=123
const h=new URLSearchParams(location.hash.slice(1));
if(h.get('layer')&&D.layers[h.get('layer')])$('layer').value=h.get('layer');
kinds();if(h.get('kind')&&D.layers[$('layer').value][h.get('kind')])$('kind').value=h.get('kind');
if(h.get('sort'))sortKey=h.get('sort');render();
const first=[...recs()].sort((a,b)=>(b[6][0]??-1e9)-(a[6][0]??-1e9))[0];
if(!(h.get('neuron')!==null&&card(+h.get('neuron')))&&first)card(first[0]);
</script></body></html>
"""
