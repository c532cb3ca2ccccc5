"""The jobs of the trajectories stage: one function per script (``scripts/trajectories_<job>.py`` runs
``trajectories.jobs.<job>``). A job takes the rule's ``input``, ``output`` and ``params`` (Snakemake's
named lists, or any object with those attributes, e.g. a SimpleNamespace in a test), reads
its inputs, calls the library and writes its outputs."""

import logging

import pandas as pd

from speechneurons.config import settings_from
from speechneurons.corpus.manifest import read_manifest
from speechneurons.frames import FrameGrid
from speechneurons.io import drop_timings, read_table, write_table
from speechneurons.plotting import save_unavailable
from speechneurons.trajectories.runs import common_steps
from speechneurons.trajectories.settings import PWCCASettings, ResetTopSettings, SampleSettings
from speechneurons.trajectories.tables import (
    add_steps,
    at_steps,
    compare_runs,
    findings,
    gather_counts,
    long_measures,
    sort_by_checkpoint,
)

# Heavy imports (torch, the model, matplotlib, ...) live in the jobs that use them: a job process
# pays only for its own, and most jobs are small (issue 28).

log = logging.getLogger(__name__)


def counts(inp, out, p) -> None:
    """Property-neuron counts of every count checkpoint, per layer, by pretraining step."""
    summaries = {c: read_table(f) for c, f in zip(p.checkpoints, inp.summaries)}
    table = gather_counts(summaries, p.steps)
    log.info(
        "counts per checkpoint:\n%s",
        table.groupby("checkpoint", sort=False)[["n_phone_type", "n_gender", "n_pitch"]].sum().to_string(),
    )
    write_table(table, out.table)


def counts_figure(inp, out, p) -> None:
    """Property-neuron counts by checkpoint, one line per layer."""
    from speechneurons.trajectories.figures import plot_counts

    plot_counts(read_table(inp.table), out.figure, p.title)


def factor_figures(inp, out, p) -> None:
    """The pretraining runs side by side at equal steps: per PWCCA view and per probe task, one
    panel of layer curves per run; PER against n reset layers for every run."""
    from speechneurons.trajectories.figures import (
        PROBE_LABELS,
        PWCCA_LABEL,
        VIEW_TITLES,
        plot_runs,
        plot_runs_reset_top,
    )

    table = read_table(inp.equal_steps)
    labels = dict(zip(*read_table(inp.runs)[["run", "factor"]].T.to_numpy()))
    for view, path in zip(p.views, out.pwcca):
        rows = table[(table["measure"] == "pwcca") & (table["key"] == view)]
        if rows.empty:
            save_unavailable(path, f"PWCCA with {VIEW_TITLES[view]}", f"no run has PWCCA of the view '{view}'")
            continue
        plot_runs(
            rows,
            path,
            ylabel=PWCCA_LABEL,
            title=f"PWCCA with {VIEW_TITLES[view]}",
            labels=labels,
            spread="standard deviation over trials",
        )
    for task, path in zip(p.tasks, out.probes):
        rows = table[(table["measure"] == "probe") & (table["key"] == task)]
        ylabel, name = PROBE_LABELS[task]
        if rows.empty:
            save_unavailable(path, f"{name}, test error", f"no run has {task} probe scores")
            continue
        plot_runs(
            rows,
            path,
            ylabel=ylabel,
            title=f"{name}, test error",
            labels=labels,
            spread=f"{100 * p.level:g} % bootstrap interval",
        )
    reset = pd.concat([read_table(f).assign(run=r) for r, f in zip(p.runs, inp.reset_top)], ignore_index=True)
    plot_runs_reset_top(reset, out.reset_top, p.level)
    log.info("%d runs compared at steps %s", len(p.runs), sorted(table["step"].dropna().unique().tolist()))


def factors(inp, out, p) -> None:
    """The pretraining runs compared: one row per run at its final checkpoint, and every run's
    PWCCA and probe errors at the steps all runs saved (equal compute)."""
    names = [r["run"] for r in p.runs]
    read = lambda files: dict(zip(names, (read_table(f) for f in files)))  # noqa: E731
    findings, pwcca, probes = read(inp.findings), read(inp.pwcca), read(inp.probes)
    table = compare_runs(p.runs, findings, probes, read(inp.reset_top), read(inp.heldout))
    measures = {r: long_measures(pwcca[r], probes[r]) for r in names}
    steps = common_steps({r: m["step"].dropna().astype(int).tolist() for r, m in measures.items()})
    log.info("runs:\n%s\nsteps every run saved (equal compute): %s", table.to_string(index=False), steps)
    write_table(table, out.runs)
    write_table(at_steps(measures, steps), out.equal_steps)


def figures(inp, out, p) -> None:
    """Layer curves coloured by checkpoint and checkpoint x layer heat maps of every PWCCA view and
    every probe task."""
    from speechneurons.trajectories.figures import (
        PROBE_LABELS,
        PWCCA_LABEL,
        VIEW_TITLES,
        plot_heatmap,
        plot_layer_curves,
        probe_measure,
        pwcca_measure,
    )

    pwcca, probes = read_table(inp.pwcca), read_table(inp.probes)
    for view, curve, heat in zip(p.views, out.curves, out.heatmaps):
        title = f"PWCCA with {VIEW_TITLES[view]}\n{p.title}"
        if not (pwcca["view"] == view).any():  # left out by the PWCCA jobs (their logs say why)
            log.warning("no PWCCA of view %r (too few samples on this corpus): its figures say so", view)
            for path in (curve, heat):
                save_unavailable(path, title, f"view '{view}': too few samples for PWCCA (see the PWCCA jobs' logs)")
            continue
        rows = pwcca_measure(pwcca, view)
        plot_layer_curves(rows, curve, ylabel=PWCCA_LABEL, title=title, spread="standard deviation over trials")
        plot_heatmap(rows, heat, label=PWCCA_LABEL, title=title, unit_range=True)
    for task, curve, heat in zip(p.tasks, out.probe_curves, out.probe_heatmaps):
        ylabel, name = PROBE_LABELS[task]
        title = f"{name}, test error\n{p.title}"
        if not (probes["task"] == task).any():  # a probe the data cannot train (its log says why)
            log.warning("no %s probe scores: its figures say so", task)
            for path in (curve, heat):
                save_unavailable(path, title, f"no {task} probe could be scored (see the probe job's log)")
            continue
        rows = probe_measure(probes, task)
        spread = f"{100 * p.level:g} % bootstrap interval over test utterances"
        plot_layer_curves(rows, curve, ylabel=ylabel, title=title, spread=spread)
        plot_heatmap(rows, heat, label=ylabel, title=title)
    log.info("%d figures", len(p.views) * 2 + len(p.tasks) * 2)


def probes(inp, out, p, threads: int = 1) -> None:
    """The experiments' linear probes (phone, speaker, gender, F0) on every layer of every analysed
    checkpoint, on the utterances the PWCCA measures: test errors with bootstrap intervals."""
    import torch

    from speechneurons.model.registry import check_frame_grid, load_model
    from speechneurons.probing.features import FrameSettings
    from speechneurons.probing.probes import ProbeSettings
    from speechneurons.trajectories.measures import measured_utterances, probe_checkpoint, probe_table

    torch.set_num_threads(threads)
    sample = settings_from(SampleSettings, p.sample)
    probes = settings_from(ProbeSettings, p.probes, seed=p.seed)
    frame_settings = settings_from(FrameSettings, p.frame_settings, seed=p.seed)
    manifest, labels, pitch = read_manifest(inp.manifest), read_table(inp.labels), read_table(inp.pitch)
    utts = measured_utterances(manifest, labels, sample, p.seed)
    batching = p.batching
    losses, tables = [], []
    for checkpoint, ref in p.checkpoints:
        loaded = load_model(ref, p.device)
        check_frame_grid(loaded, FrameGrid.from_config(p.frames))
        lost = probe_checkpoint(
            loaded,
            manifest,
            labels,
            pitch,
            utts,
            sample.layers,
            probes,
            frame_settings,
            batch_seconds=batching["batch_seconds"],
            max_pad_ratio=batching["max_pad_ratio"],
            on_bad_input=p.on_bad_input,
        )
        losses.append(lost.assign(checkpoint=checkpoint))
        tables.append(probe_table(lost, checkpoint, p.resamples, p.seed, p.level))
        best = tables[-1].loc[tables[-1].groupby("task")["value"].idxmin(), ["task", "layer", "value"]]
        log.info("%s: lowest test error per task %s", checkpoint, best.to_dict("records"))
    write_table(pd.concat(losses, ignore_index=True), out.losses)
    write_table(add_steps(pd.concat(tables, ignore_index=True), p.steps), out.table)


def pwcca(inp, out, p, threads: int = 1) -> None:
    """Held-out PWCCA of every layer of one checkpoint against log-Mel frames, the front-end output
    and one-hot phone and word labels."""
    import torch
    from threadpoolctl import threadpool_limits

    from speechneurons.model.registry import check_frame_grid, load_model
    from speechneurons.trajectories.measures import load_waves, plan_for, pwcca_for_checkpoint

    torch.set_num_threads(threads)
    threadpool_limits(threads)  # the SVDs: no oversubscribed BLAS threads
    sample = settings_from(SampleSettings, p.sample)
    pwcca = settings_from(PWCCASettings, p.pwcca)
    manifest = read_manifest(inp.manifest)
    plan = plan_for(manifest, read_table(inp.labels), sample, pwcca, p.seed)
    loaded = load_model(p.model_ref, p.device)
    check_frame_grid(loaded, FrameGrid.from_config(p.frames))
    waves = load_waves(manifest, plan.utt_ids, loaded.grid.sample_rate)
    batching = p.batching
    summary, trials = pwcca_for_checkpoint(
        loaded,
        waves,
        plan,
        sample,
        pwcca,
        p.checkpoint,
        p.seed,
        batch_seconds=batching["batch_seconds"],
        max_pad_ratio=batching["max_pad_ratio"],
    )
    log.info(
        "PWCCA of %d layers against %s in %.1f s",
        summary["layer"].nunique(),
        list(pwcca.views),
        summary["seconds"].sum(),
    )
    write_table(drop_timings(summary), out.summary)
    write_table(trials, out.trials)


def pwcca_table(inp, out, p) -> None:
    """The PWCCA of every analysed checkpoint in one table by pretraining step, and what it shows:
    the layer of peak phone PWCCA and whether the top layer's log-Mel PWCCA rises again."""
    steps = p.steps
    pwcca = pd.concat([read_table(f) for f in inp.summaries], ignore_index=True)
    trials = pd.concat([read_table(f) for f in inp.trials], ignore_index=True)
    pwcca = sort_by_checkpoint(add_steps(pwcca, steps), "view", "layer")
    trials = sort_by_checkpoint(add_steps(trials, steps), "view", "layer", "trial")
    table = findings(pwcca, trials)
    for row in table.itertuples(index=False):
        log.info(
            "%s: peak phone PWCCA at layer %s (%.3f); log-Mel top %s min %s rise %.3f",
            row.checkpoint,
            row.peak_phone_layer,
            row.peak_phone_pwcca,
            getattr(row, "mel_top_layer", "-"),
            getattr(row, "mel_min_layer", "-"),
            getattr(row, "mel_rise", float("nan")),
        )
    write_table(pwcca, out.pwcca)
    write_table(trials, out.trials)
    write_table(table, out.findings)


def reset_top(inp, out, p, threads: int = 1) -> None:
    """CTC phone fine-tuning with the top n layers re-initialised (n = the job's wildcard): one
    fine-tuning per candidate learning rate on train minus a dev part, the rate with the lowest dev
    PER chosen, its per-utterance edit distances on test. With a ``model`` output (the
    dissection's ctc_twin, n = 0) the chosen rate's fine-tuned model is saved there too."""
    import torch
    from threadpoolctl import threadpool_limits

    from speechneurons.model.registry import check_frame_grid, load_model
    from speechneurons.trajectories.finetune import frame_codes, reset_top_one, save_ctc_model, select_train
    from speechneurons.trajectories.measures import load_waves

    torch.set_num_threads(threads)
    threadpool_limits(threads)
    n = int(p.reset)
    model_out = getattr(out, "model", None)
    settings = settings_from(ResetTopSettings, p.settings)
    manifest = read_manifest(inp.manifest)
    codes = frame_codes(read_table(inp.labels))
    labelled = manifest[manifest["utt_id"].isin(set(codes))]
    train_ids = labelled.loc[labelled["split"] == "train", "utt_id"].tolist()
    test_ids = labelled.loc[labelled["split"] == "test", "utt_id"].tolist()
    fit_ids, dev_ids = select_train(train_ids, settings, p.seed)
    loaded = load_model(p.model_ref, p.device)
    check_frame_grid(loaded, FrameGrid.from_config(p.frames))
    log.info("%d fitting, %d dev, %d test utterances", len(fit_ids), len(dev_ids), len(test_ids))
    waves = load_waves(manifest, fit_ids + dev_ids + test_ids, loaded.grid.sample_rate)
    run = reset_top_one(
        loaded, waves, fit_ids, dev_ids, test_ids, codes, n, settings, p.seed, p.device, keep_model=bool(model_out)
    )
    rates = run.rates.assign(n_train=run.n_train, n_dev=run.n_dev)  # the time: in the log
    log.info("reset top %d trained in %.1f s", n, run.seconds)
    log.info("rates:\n%s", rates.to_string(index=False))
    write_table(run.per_utterance, out.per_utterance)
    write_table(drop_timings(run.train_log), out.train_log)
    write_table(rates, out.rates)
    if model_out:
        save_ctc_model(run, loaded, model_out, p.seed)
        log.info("fine-tuned model of n = %d saved to %s", n, model_out)


def reset_top_figure(inp, out, p) -> None:
    """Phone error rate on test against the number of re-initialised top layers."""
    from speechneurons.trajectories.figures import plot_reset_top

    plot_reset_top(read_table(inp.table), out.figure, p.level, p.title)


def reset_top_table(inp, out, p) -> None:
    """Phone error rate on test against the number n of re-initialised top layers, with bootstrap
    intervals over test utterances and the paired difference to n = 0."""
    from speechneurons.trajectories.finetune import (  # torch (the CTC model)
        LR_COLUMNS,
        ResetTopRun,
        summarize_reset_top,
    )

    runs = []
    for n, per_utt, train_log, rates in zip(p.n_reset, inp.per_utterance, inp.train_logs, inp.rates):
        r = read_table(rates)
        runs.append(
            ResetTopRun(
                int(n),
                read_table(per_utt),
                read_table(train_log),
                r[LR_COLUMNS],
                int(r["n_train"].iloc[0]),
                int(r["n_dev"].iloc[0]),
                float("nan"),  # the time is in the run's log
            )
        )
    result = summarize_reset_top(runs, p.resamples, p.seed, p.level)
    log.info("reset-top PER:\n%s", result.summary.round(3).to_string(index=False))
    write_table(drop_timings(result.summary), out.table)
    write_table(pd.concat([r.rates for r in runs], ignore_index=True), out.rates)
    write_table(result.per_utterance, out.per_utterance)
