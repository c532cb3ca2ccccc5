"""Pretrain one HuBERT iteration on the corpus and its frame targets: the iteration's checkpoints
(save_pretrained + head, named by the step counted over all iterations), its final model and
its training log."""

import torch

from speechneurons.config import settings_from
from speechneurons.device import resolve_device
from speechneurons.frames import FrameGrid
from speechneurons.io import atomic_dir, drop_timings, read_table, write_table
from speechneurons.logs import script_logging
from speechneurons.model import hubert as H
from speechneurons.model import pretrain as P
from speechneurons.model.targets import targets_from_table

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    p, out, i = snakemake.params, snakemake.output, int(snakemake.wildcards.iteration)
    torch.set_num_threads(snakemake.threads)
    train = settings_from(P.TrainSettings, p.train)
    grid, device = FrameGrid.from_config(p.frames), resolve_device(p.device)
    ids, waves, skipped = P.load_corpus(
        snakemake.input.manifest, grid, p.splits, p.on_bad_input, min_frames=train.mask_length
    )
    table = read_table(snakemake.input.targets)
    ids, waves, targets, n_missing = P.align_targets(ids, waves, targets_from_table(table), grid)
    n_clusters = int(table["target"].max()) + 1
    log.info(
        "iteration %d: %d utterances (%.1f min), %d skipped, %d without targets, %d clusters, device %s",
        i,
        len(ids),
        sum(map(len, waves)) / grid.sample_rate / 60,
        len(skipped),
        n_missing,
        n_clusters,
        device,
    )
    if p.init == "resume":
        model = H.load_checkpoint(snakemake.input.init)[0]
    else:
        model = H.build_model(settings_from(H.ModelSettings, p.model), grid, p.seed)
    torch.manual_seed(p.seed + i)
    head = H.PretrainHead(model.config.hidden_size, n_clusters, train.final_dim, train.temperature)
    meta = dict(iteration=i, n_utterances=len(ids), skipped=len(skipped), seed=p.seed)

    with atomic_dir(out.checkpoints) as checkpoints:

        def save(step, model, head):
            H.save_checkpoint(
                model,
                head,
                checkpoints / f"step-{p.start_step + step}",
                {**meta, "step": p.start_step + step, "iteration_step": step},
            )

        train_log = P.train(
            model,
            head,
            waves,
            targets,
            grid,
            train,
            steps=p.steps,
            seed=p.seed + i - 1,
            checkpoint_steps=p.checkpoint_steps,
            device=device,
            on_checkpoint=save,
        )
    with atomic_dir(out.final) as tmp:
        H.save_checkpoint(model, head, tmp, {**meta, "step": p.start_step + p.steps, "iteration_step": p.steps})
    write_table(drop_timings(train_log), out.train_log)  # elapsed time: logged below
    last = train_log.iloc[-1]
    log.info(
        "final masked accuracy %.4f (chance %.4f, majority %.4f) after %.0f s",
        last.masked_acc,
        last.chance,
        last.majority_rate,
        last.elapsed_s,
    )
