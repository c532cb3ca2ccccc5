"""The neurons each erasure silences: a group's property neurons in every layer, and a random
control of the same size per layer."""

import zlib

from speechneurons.experiments.erasure import group_neurons, random_control, sets_to_json
from speechneurons.experiments.pruning import load_property_neurons
from speechneurons.io import write_json
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    p = snakemake.params
    neurons = load_property_neurons(snakemake.input.neurons)
    widths = {layer: int(doc["D"]) for layer, doc in neurons.items()}
    for (name, kind), path in zip(p.variants, snakemake.output.neurons, strict=True):
        prop, group = name.split("-", 1)
        sets = group_neurons(neurons, prop, group)
        if kind == "random":
            sets = random_control(sets, widths, seed=p.seed, stream=zlib.crc32(name.encode()))
        n_erased = sum(len(v) for v in sets.values())
        log.info("%s (%s): %d neurons %s", name, kind, n_erased, {layer: len(v) for layer, v in sets.items()})
        write_json(path, {"erasure": name, "kind": kind, "n_erased": n_erased, "neurons": sets_to_json(sets)})
