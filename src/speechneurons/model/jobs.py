"""The jobs of the model stage: one function per script (``scripts/model_<job>.py`` runs
``model.jobs.<job>``). A job takes the rule's ``input``, ``output`` and ``params`` (Snakemake's
named lists, or any object with those attributes, e.g. a SimpleNamespace in a test), reads
its inputs, calls the library and writes its outputs."""

import logging

import numpy as np
import pandas as pd

from speechneurons.config import settings_from
from speechneurons.corpus.manifest import read_manifest
from speechneurons.device import resolve_device
from speechneurons.frames import FrameGrid
from speechneurons.io import atomic_dir, atomic_path, drop_timings, read_table, write_json, write_table
from speechneurons.model import targets as T
from speechneurons.model.plant_concepts import CONCEPT_SIGNALS
from speechneurons.model.registry import download_model
from speechneurons.model.schedule import checkpoint_name
from speechneurons.model.targets import targets_from_table

# Heavy imports (torch, the model, matplotlib, ...) live in the jobs that use them: a job process
# pays only for its own, and most jobs are small (issue 28).

log = logging.getLogger(__name__)


def curve(inp, out, p) -> None:
    """The pretraining curve: loss and masked accuracy against steps, with chance and majority."""
    from speechneurons.model.figures import plot_curve

    plot_curve([read_table(path) for path in inp.logs], out.png)


def download(inp, out, p) -> None:
    """Fetch a Hugging Face model into the local Hugging Face cache (model.download: true)."""
    folder = download_model(p.ref)
    files = sorted(f.name for f in folder.iterdir())
    write_json(out.marker, {"ref": p.ref, "snapshot": str(folder), "files": files})
    log.info("%s: %d files in %s", p.ref, len(files), folder)


def heldout(inp, out, p, threads: int = 1) -> None:
    """Masked-prediction accuracy of every checkpoint on held-out utterances (the learning curve
    on data the model never trained on), with chance and the majority-class rate."""
    import torch

    from speechneurons.model.figures import plot_heldout_curve
    from speechneurons.model.hubert import load_checkpoint, masked_prediction_accuracy
    from speechneurons.model.pretrain import align_targets, heldout_corpus

    torch.set_num_threads(threads)
    grid = FrameGrid.from_config(p.frames)
    manifest = read_manifest(inp.manifest)
    ids, waves, held = heldout_corpus(manifest, grid, p.splits, p.on_bad_input, p.heldout_utterances)
    log.info("scoring on %d held-out utterances of splits %s", len(ids), held)
    targets = [targets_from_table(read_table(path)) for path in inp.targets]  # per iteration
    rows = []
    for name, iteration, step, folder in p.checkpoints:
        model, head, _ = load_checkpoint(folder)
        _, w, t, _ = align_targets(ids, waves, targets[iteration - 1], grid)
        scores = masked_prediction_accuracy(model, head, w, t, grid, p.mask_prob, p.mask_length, seed=p.seed)
        counts = np.bincount(np.concatenate(t), minlength=head.n_clusters)
        rows.append(
            dict(
                checkpoint=name,
                iteration=iteration,
                step=step,
                **scores,
                chance=1 / head.n_clusters,
                majority_rate=float(counts.max() / counts.sum()),
            )
        )
        log.info(
            "%s: held-out masked accuracy %.4f (unmasked %.4f)", name, scores["masked_acc"], scores["unmasked_acc"]
        )
    table = pd.DataFrame(rows).sort_values("step", kind="stable")
    write_table(table, out.table)
    plot_heldout_curve(table, [read_table(path) for path in inp.logs], out.png)


def pretrain(inp, out, p, threads: int = 1) -> None:
    """Pretrain one HuBERT iteration on the corpus and its frame targets: the iteration's checkpoints
    (save_pretrained + head, named by the step counted over all iterations), its final model and
    its training log."""
    import torch

    from speechneurons.model import hubert as H
    from speechneurons.model import pretrain as P

    i = int(p.iteration)
    torch.set_num_threads(threads)
    train = settings_from(P.TrainSettings, p.train)
    grid, device = FrameGrid.from_config(p.frames), resolve_device(p.device)
    ids, waves, skipped = P.load_corpus(inp.manifest, grid, p.splits, p.on_bad_input, min_frames=train.mask_length)
    table = read_table(inp.targets)
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
        model = H.load_checkpoint(inp.init)[0]
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
                checkpoints / checkpoint_name(p.start_step + step),
                {**meta, "step": p.start_step + step, "iteration_step": step},
                weights_dtype=torch.float16,  # the snapshots along the way; the final model is float32
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


def targets(inp, out, p, threads: int = 1) -> None:
    """Frame targets of one pretraining iteration: k-means of MFCC + deltas (targets 'mfcc') or of a
    layer of the previous iteration's model (targets 'layer'), fitted on the pretraining splits and
    assigned to every utterance (held-out utterances get targets to score the model on, never to
    fit or train); one label per model frame, and the cluster centres."""
    import torch

    from speechneurons.model.hubert import load_checkpoint
    from speechneurons.model.pretrain import load_corpus

    torch.set_num_threads(threads)
    grid = FrameGrid.from_config(p.frames)
    manifest = read_manifest(inp.manifest)
    ids, waves, skipped = load_corpus(manifest, grid, None, p.on_bad_input, min_frames=1)
    split = dict(zip(manifest["utt_id"].astype(str), manifest["split"]))
    fit = [split[u] in p.splits for u in ids]
    log.info(
        "%d utterances (%.1f min), %d of them fit the k-means",
        len(ids),
        sum(map(len, waves)) / grid.sample_rate / 60,
        sum(fit),
    )
    if p.targets == "mfcc":
        labels, centres, info = T.mfcc_targets(waves, grid, p.n_clusters, p.seed, p.n_mfcc, p.kmeans_max_frames, fit)
    else:
        model = load_checkpoint(inp.model)[0]
        labels, centres, info = T.layer_targets(
            model, waves, grid, p.layer, p.n_clusters, p.seed, resolve_device(p.device), p.kmeans_max_frames, fit
        )
    info.update(skipped=len(skipped), seed=p.seed, fit_splits=list(p.splits))
    log.info("targets: %s", info)
    write_table(T.targets_table(ids, labels), out.targets)
    with atomic_path(out.centres) as tmp, open(tmp, "wb") as fh:
        np.save(fh, centres)
    write_json(out.info, info)


def plant(inp, out, p) -> None:
    """A planted model (docs/positive-controls.md): the base model's final folder with property
    neurons (or, for the null twin, speaker-keyed units) written into its FFNs by weight surgery,
    the directions estimated on the base model's activation-dump frames (train split, speech
    phones, middle frames) of at most planted.max_utterances utterances; planted.json lists the
    units of every layer and group."""
    from speechneurons.model.plant import PlantSettings, plant_model_
    from speechneurons.model.plant_layerwise import LAYERWISE_SIGNALS, LayerwiseSettings, plant_layerwise_
    from speechneurons.model.registry import load_model
    from speechneurons.phones import is_speech_phone, normalize_phone

    if p.planted.get("signal") in CONCEPT_SIGNALS:  # dissection concepts: their own job below
        return plant_concepts(inp, out, p)
    settings = settings_from(PlantSettings, p.planted)
    loaded = load_model(str(inp.base), device=str(resolve_device(p.device)))
    index = read_table(inp.index)
    keep = index["phone"].astype(str).map(normalize_phone).map(is_speech_phone).astype(bool)
    keep &= index["split"].astype(str) == "train"
    if "is_mid" in index:
        keep &= index["is_mid"].astype(bool)
    index, waves = _plant_frames(index[keep], settings.max_utterances, p.seed, inp.manifest, loaded.grid.sample_rate)
    if settings.signal in LAYERWISE_SIGNALS:  # the top layers trained back toward the input (plant_layerwise)
        layerwise = settings_from(LayerwiseSettings, p.planted["layerwise"])
        done = {"layerwise": plant_layerwise_(loaded, list(waves.values()), settings.signal, layerwise, p.seed)}
        planted = {}
    else:
        planted = plant_model_(loaded, waves, index, settings, p.n_pitch_bins, p.seed)
        done = {"units": {str(layer): groups for layer, groups in planted.items()}}
    _save_planted(inp.base, out.model, loaded, p, len(waves), len(index), done)
    log.info("planted %s %s from %d frames of %d utterances", settings.signal,
             done.get("layerwise") or f"units in layers {sorted(planted)}", len(index), len(waves))  # fmt: skip


def _plant_frames(frames: pd.DataFrame, max_utterances: int, seed: int, manifest_path, sample_rate: int):
    """The frames a planted model's construction is estimated on: those of at most
    ``max_utterances`` of their utterances (a seeded draw; 0 = all), and those utterances'
    audio (utt_id -> wave, sorted by utt_id)."""
    from speechneurons.audio import load_audio

    utts = sorted(frames["utt_id"].astype(str).unique())
    if max_utterances and len(utts) > max_utterances:
        rng = np.random.default_rng([int(seed), 13])
        utts = sorted(rng.choice(utts, max_utterances, replace=False).tolist())
    frames = frames[frames["utt_id"].astype(str).isin(utts)]
    manifest = read_manifest(manifest_path).set_index("utt_id")
    return frames, {u: load_audio(manifest.loc[u, "audio_path"], sample_rate) for u in utts}


def _save_planted(base, folder_out, loaded, p, n_utterances: int, n_frames: int, done: dict) -> None:
    """The planted model's folder, atomically: the base folder with the new weights and
    planted.json (base, settings, how many utterances and frames, and ``done``: what was planted)."""
    import shutil

    with atomic_dir(folder_out) as folder:
        shutil.copytree(base, folder, dirs_exist_ok=True)
        loaded.model.save_pretrained(folder, safe_serialization=True)
        doc = {"base": p.base, "settings": p.planted, "utterances": n_utterances, "frames": n_frames, **done}
        write_json(folder / "planted.json", doc)


def plant_concepts(inp, out, p) -> None:
    """A planted concept model (docs/positive-controls.md, speechneurons.model.plant_concepts):
    the base model's final folder with units keyed to stated dissection concepts (or, for the
    null twin, to speaker groups) at the middle layer, the directions estimated on the base
    model's phone items (``inp.phone_items``: the dissection's items of the base's dump) of the train
    split, at most planted.max_utterances utterances; planted.json lists the units of every
    layer and group and each group's stated concept."""
    from speechneurons.model.plant_concepts import ConceptPlantSettings, plant_concepts_
    from speechneurons.model.registry import load_model

    settings = settings_from(ConceptPlantSettings, p.planted)
    if not getattr(inp, "phone_items", None):
        raise ValueError(f"planted signal {settings.signal!r} needs the base model's dissection phone items")
    loaded = load_model(str(inp.base), device=str(resolve_device(p.device)))
    items = read_table(inp.phone_items)
    items, waves = _plant_frames(items[items["split"].astype(str) == "train"], settings.max_utterances, p.seed,
                                 inp.manifest, loaded.grid.sample_rate)  # fmt: skip
    planted, stated = plant_concepts_(loaded, waves, items, settings, p.seed)
    units = {str(layer): groups for layer, groups in planted.items()}
    _save_planted(inp.base, out.model, loaded, p, len(waves), len(items), {"units": units, "stated": stated})
    log.info("planted %s units %s in layers %s from %d frames of %d utterances", settings.signal, stated,
             sorted(planted), len(items), len(waves))  # fmt: skip
