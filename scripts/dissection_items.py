"""The items of a dump with their attributes and captions: one per phone segment (a row of the
mid dump) and one per utterance, measured from the labels and the audio."""

import pandas as pd

from speechneurons.config import settings_from
from speechneurons.corpus.manifest import read_manifest
from speechneurons.dissection.describe import phone_items, utterance_items, write_items
from speechneurons.dissection.settings import ItemSettings
from speechneurons.frames import FrameGrid
from speechneurons.io import read_table
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    p, inp, out = snakemake.params, snakemake.input, snakemake.output
    settings = settings_from(ItemSettings, p.settings)
    index, manifest = read_table(inp.index), read_manifest(inp.manifest)
    audio = dict(zip(manifest["utt_id"], manifest["audio_path"]))
    phones = phone_items(index, read_table(inp.labels), audio, FrameGrid.from_config(p.frames), settings.n_bins,
                         p.n_pitch_bins, read_table(inp.pitch))  # fmt: skip
    utterances = utterance_items(list(pd.unique(phones.table["utt_id"])), manifest, phones, settings.n_bins)
    write_items(phones, out.phone_table, out.phone_meta)
    write_items(utterances, out.utterance_table, out.utterance_meta)
    log.info("%d phone items, %d utterance items; bin edges %s", len(phones.table), len(utterances.table), phones.edges)
