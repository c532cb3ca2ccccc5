"""SAEs of one layer and architecture: train every budget on the train rows of the `sample`
frames, evaluate on held-out rows, and run the property statistic on the latents (at k) of
the `mid` frames, with the permutation chance level of the properties stage."""

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from speechneurons.config import settings_from
from speechneurons.device import resolve_device
from speechneurons.io import drop_timings, load_array, read_table, write_table
from speechneurons.logs import script_logging
from speechneurons.properties.nulls import NullSettings, null_sets
from speechneurons.properties.statistic import PropertySettings, frame_labels
from speechneurons.properties.tables import load_dump, write_layer
from speechneurons.saes.evaluation import save_evaluations
from speechneurons.saes.properties import base_rate, latent_properties
from speechneurons.saes.settings import SaeSettings
from speechneurons.saes.stage import split_rows, train_budgets

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    torch.set_num_threads(max(1, snakemake.threads))
    p, inp, out, w = snakemake.params, snakemake.input, snakemake.output, snakemake.wildcards
    settings = settings_from(SaeSettings, p.settings, architecture=w.arch)
    device = resolve_device(p.device)
    sample = load_array(inp.sample, mmap_mode="r")
    train, held, groups = split_rows(read_table(inp.index_sample), p.max_eval_rows, inp.index_sample)
    log.info("layer %s, %s: %d train and %d held-out rows x %d, budgets %s, on %s",
             w.layer, w.arch, len(train), len(held), sample.shape[1], p.ks, device)  # fmt: skip
    x_train = np.asarray(sample[train])
    saes, evaluations, train_log = train_budgets(
        x_train, np.asarray(sample[held]), groups, settings, p.ks, device, p.seed
    )
    main = saes[p.ks[0]]
    main.save(out.sae)
    Path(out.sweep).mkdir(parents=True, exist_ok=True)  # the sweep's SAEs (none off the sweep layers)
    for k, path in zip(p.ks[1:], p.sweep, strict=True):
        saes[k].save(path)
    save_evaluations(out.sums, evaluations)
    write_table(drop_timings(train_log), out.train_log)

    props = settings_from(PropertySettings, p.properties)
    mid, index_mid = load_dump(inp.mid, inp.index_mid)
    labels = frame_labels(index_mid, p.n_pitch_bins, p.on_bad_input, inp.index_mid, props.splits)
    lp, top = latent_properties(main, mid, labels, int(w.layer), props, p.n_pitch_bins)
    write_layer(lp, neurons=out.latents, P=out.P, R=out.R, counts=out.counts, skipped=out.skipped)
    rate = base_rate(top)
    log.info("property latents (tau = %d of F = %d; mean activation rate %.4g against the threshold %.4g): %s",
             lp.tau, lp.D, rate, lp.tau / lp.D, {k: len(v) for k, v in lp.property_neurons.items()})  # fmt: skip
    # the properties stage's nulls, with its draws (same seed): one property at a time
    null = null_sets(top, labels, index_mid["utt_id"].to_numpy(), index_mid["speaker"].to_numpy(), lp.property_neurons,
                     props.sigma, props.min_count, p.n_pitch_bins, settings_from(NullSettings, p.nulls), p.seed,
                     props.selection, props.fdr_q)  # fmt: skip
    write_table(null.groups, out.null)
    rows = [dict(ev.summary(), layer=int(w.layer)) for ev in evaluations.values()]
    table = pd.DataFrame(rows).assign(stat_tau=np.nan, stat_base_rate=np.nan)
    table.loc[table["k"] == p.ks[0], ["stat_tau", "stat_base_rate"]] = [lp.tau, rate]
    write_table(table, out.evaluation)
