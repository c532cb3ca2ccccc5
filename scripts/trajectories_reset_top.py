"""CTC phone fine-tuning with the top n layers re-initialised (n = the job's wildcard): one
fine-tuning per candidate learning rate on train minus a dev part, the rate with the lowest dev
PER chosen, its per-utterance edit distances on test."""

import torch
from threadpoolctl import threadpool_limits

from speechneurons.config import settings_from
from speechneurons.corpus.manifest import read_manifest
from speechneurons.frames import FrameGrid
from speechneurons.io import drop_timings, read_table, write_table
from speechneurons.logs import script_logging
from speechneurons.model.registry import check_frame_grid, load_model
from speechneurons.trajectories.finetune import frame_codes, front_end_features, run_reset_top, select_train
from speechneurons.trajectories.measures import load_waves
from speechneurons.trajectories.settings import ResetTopSettings

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    threadpool_limits(snakemake.threads)
    p, out = snakemake.params, snakemake.output
    n = int(snakemake.wildcards.reset)
    settings = settings_from(ResetTopSettings, p.settings)
    manifest = read_manifest(snakemake.input.manifest)
    codes = frame_codes(read_table(snakemake.input.labels))
    labelled = manifest[manifest["utt_id"].isin(set(codes))]
    train_ids = labelled.loc[labelled["split"] == "train", "utt_id"].tolist()
    test_ids = labelled.loc[labelled["split"] == "test", "utt_id"].tolist()
    fit_ids, dev_ids = select_train(train_ids, settings, p.seed)
    loaded = load_model(p.model_ref, p.device)
    check_frame_grid(loaded, FrameGrid.from_config(p.frames))
    if not 0 <= n <= loaded.num_layers:
        raise ValueError(f"trajectories.reset_top.n_reset has {n}, but the model has {loaded.num_layers} layers")
    waves = load_waves(manifest, fit_ids + dev_ids + test_ids, loaded.grid.sample_rate)
    feats = {name: front_end_features(loaded, waves, ids) for name, ids in
             (("fit", fit_ids), ("dev", dev_ids), ("test", test_ids))}  # fmt: skip
    log.info("%d fitting, %d dev, %d test utterances", len(fit_ids), len(dev_ids), len(test_ids))
    run = run_reset_top(loaded, feats["fit"], feats["dev"], feats["test"], codes, n, settings, p.seed, p.device)
    rates = run.rates.assign(n_train=run.n_train, n_dev=run.n_dev)  # the time: in the log
    log.info("reset top %d trained in %.1f s", n, run.seconds)
    log.info("rates:\n%s", rates.to_string(index=False))
    write_table(run.per_utterance, out.per_utterance)
    write_table(drop_timings(run.train_log), out.train_log)
    write_table(rates, out.rates)
