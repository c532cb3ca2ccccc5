"""Property-neuron statistics of one layer: mid.npy + index_mid.parquet -> neurons.json, P.npz,
R.parquet, counts.tsv, skipped.tsv (docs/property-neurons.md)."""

import torch

from speechneurons.config import settings_from
from speechneurons.device import resolve_device
from speechneurons.logs import script_logging
from speechneurons.properties.statistic import PropertySettings, compute_layer
from speechneurons.properties.tables import load_dump, write_layer

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    torch.set_num_threads(max(1, snakemake.threads))
    p, layer = snakemake.params, int(snakemake.wildcards.layer)
    acts, index = load_dump(snakemake.input.mid, snakemake.input.index)
    # device and chunk_rows do not change any result (integer counts, deterministic ties), so
    # they come from the config directly instead of params and do not trigger reruns.
    cfg = snakemake.config
    device = resolve_device(cfg["device"])
    log.info("layer %d: %d middle frames x %d neurons on %s", layer, *acts.shape, device)
    lp = compute_layer(
        acts,
        index,
        layer=layer,
        settings=settings_from(PropertySettings, p.settings),
        n_pitch_bins=p.n_pitch_bins,
        chunk_rows=cfg["properties"]["chunk_rows"],
        device=str(device),
        on_bad_input=p.on_bad_input,
        path=snakemake.input.mid,
    )
    write_layer(lp, **{k: snakemake.output[k] for k in ("neurons", "P", "R", "counts", "skipped")})
    log.info(
        "tau = %d; property neurons: %s; skipped: %s",
        lp.tau,
        {k: len(v) for k, v in lp.property_neurons.items()},
        lp.skipped,
    )
