"""Dissection of one layer: each neuron's top and bottom items, top concepts, open-concept
summary and description (on the selecting split), and their agreement with the property neurons."""

import numpy as np
from threadpoolctl import threadpool_limits

from speechneurons.config import settings_from
from speechneurons.dissection.describe import read_items
from speechneurons.dissection.dissect import dissect_dump_layer, write_layer
from speechneurons.dissection.llm import LLMWriter
from speechneurons.dissection.scoring import property_truth
from speechneurons.dissection.settings import DissectionSettings, LLMSettings
from speechneurons.io import load_array, read_json
from speechneurons.logs import script_logging
from speechneurons.properties.statistic import tau_from_fraction

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    threadpool_limits(snakemake.threads)  # threads beyond the job's own only slow BLAS down here
    p, inp, out = snakemake.params, snakemake.input, snakemake.output
    layer = int(snakemake.wildcards.layer)
    settings = settings_from(DissectionSettings, p.settings)
    llm = LLMWriter(settings_from(LLMSettings, p.llm), p.llm_cache) if settings.writer == "llm" else None
    acts = load_array(inp.mid, mmap_mode="r")
    phones = read_items(inp.phone_table, inp.phone_meta)
    utterances = read_items(inp.utterance_table, inp.utterance_meta)
    truth = property_truth(read_json(inp.neurons), p.n_pitch_bins)
    tau = tau_from_fraction(p.tau_fraction, acts.shape[1])
    tables = dissect_dump_layer(acts, phones, utterances, truth, settings, layer, tau, p.level, llm)
    write_layer(tables, **{k: out[k] for k in ("neurons", "shared", "similarity", "agreement", "summary")})
    for kind, s in tables.summary["kinds"].items():
        log.info("%s items: %.1f%% uninterpretable (shuffled %.1f%%)", kind, 100 * s["uninterpretable_share"],
                 100 * (s["uninterpretable_null_mean"] or np.nan))  # fmt: skip
