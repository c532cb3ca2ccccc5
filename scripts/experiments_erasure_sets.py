"""The neurons each erasure silences: a group's property neurons in every layer, and a random
control of the same size per layer matched by nearest activation rate (its balance over
experiments.control_draws draws in random_match.tsv), drawn from the neurons that are no
property's neurons (so that the control of gender-M never erases gender-F neurons)."""

import zlib

import pandas as pd

from speechneurons.activated import rates_from_npz
from speechneurons.config import settings_from
from speechneurons.experiments.matching import MatchSettings, balance_table, matched_controls
from speechneurons.io import write_json, write_table
from speechneurons.logs import script_logging
from speechneurons.neuron_sets import group_neurons, load_property_neurons, protected_neurons, sets_to_json

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    p = snakemake.params
    m = settings_from(MatchSettings, p.matching)
    neurons = load_property_neurons(snakemake.input.neurons)
    rates = {int(doc["layer"]): rates_from_npz(path) for doc, path in zip(neurons.values(), snakemake.input.P)}
    any_property = protected_neurons(neurons)  # every property's neurons, per layer
    matches = []
    for (name, kind), path in zip(p.variants, snakemake.output.neurons, strict=True):
        prop, group = name.split("-", 1)
        sets = group_neurons(neurons, prop, group)
        if kind == "random":  # drawn from the neurons that are no property's neurons
            erased = sets
            draws = matched_controls(erased, rates, m.control_draws, p.seed, zlib.crc32(name.encode()),
                                     m.match_neighbours, exclude=any_property, target=m.balance_ks)  # fmt: skip
            sets = draws[0]  # the control the erased model is scored with
            matches.append(balance_table(erased, draws, rates, m.balance_ks).assign(erasure=name))
        n_erased = sum(len(v) for v in sets.values())
        log.info("%s (%s): %d neurons %s", name, kind, n_erased, {layer: len(v) for layer, v in sets.items()})
        write_json(path, {"erasure": name, "kind": kind, "n_erased": n_erased, "neurons": sets_to_json(sets)})
    write_table(pd.concat(matches, ignore_index=True) if matches else pd.DataFrame(), snakemake.output.controls)
