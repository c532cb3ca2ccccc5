"""Pretrain one HuBERT iteration on the corpus and its frame targets; save checkpoints
(save_pretrained + head), the final model and the training log."""

from speechneurons.logs import script_logging

with script_logging(snakemake.log[0]) as log:
    import torch

    from speechneurons.model import hubert as H
    from speechneurons.model import pretrain as P
    from speechneurons.device import resolve_device
    from speechneurons.frames import FrameGrid
    from speechneurons.io import atomic_dir, read_table, write_table
    from speechneurons.model.targets import targets_from_table

    p, out = snakemake.params, snakemake.output
    tp = p.train
    torch.set_num_threads(snakemake.threads)
    grid, device = FrameGrid.from_config(p.frames), resolve_device(p.device)
    ids, waves, skipped = P.load_corpus(snakemake.input.manifest, grid, tp["splits"], p.on_bad_input, min_frames=tp["mask_length"])
    ids, waves, targets, n_missing = P.align_targets(ids, waves, targets_from_table(read_table(snakemake.input.targets)), grid)
    n_clusters = int(read_table(snakemake.input.targets)["target"].max()) + 1
    log.info("iteration %d: %d utterances (%.1f min), %d skipped, %d without targets, %d clusters, device %s",
             p.iteration, len(ids), sum(map(len, waves)) / grid.sample_rate / 60, len(skipped), n_missing, n_clusters, device)
    if tp["init"] == "resume":
        model = H.load_checkpoint(snakemake.input.init)[0]
    else:
        model = H.build_model(tp, grid, p.seed)
    torch.manual_seed(p.seed + p.iteration)
    head = H.PretrainHead(model.config.hidden_size, n_clusters, tp["final_dim"], tp["temperature"])
    opts = P.TrainOptions.from_config(tp, seed=p.seed + p.iteration - 1)
    meta = dict(iteration=p.iteration, n_utterances=len(ids), skipped=len(skipped), seed=p.seed)
    ckpt_dirs = dict(zip(tp["checkpoint_steps"], out.checkpoints))

    def save(step, model, head):
        with atomic_dir(ckpt_dirs[step]) as tmp:
            H.save_checkpoint(model, head, tmp, {**meta, "step": step})

    train_log = P.train(model, head, waves, targets, grid, opts, device, on_checkpoint=save)
    with atomic_dir(out.final) as tmp:
        H.save_checkpoint(model, head, tmp, {**meta, "step": opts.steps})
    write_table(train_log, out.train_log)
    last = train_log.iloc[-1]
    log.info("final masked accuracy %.4f (chance %.4f, majority %.4f) after %.0f s",
             last.masked_acc, last.chance, last.majority_rate, last.elapsed_s)
