"""Layer curves coloured by checkpoint and checkpoint x layer heat maps of every PWCCA view and
every probe task."""

from speechneurons.io import read_table
from speechneurons.logs import script_logging
from speechneurons.plotting import save_unavailable
from speechneurons.trajectories.figures import (
    PROBE_LABELS,
    PWCCA_LABEL,
    VIEW_TITLES,
    plot_heatmap,
    plot_layer_curves,
    probe_measure,
    pwcca_measure,
)

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    p, out = snakemake.params, snakemake.output
    pwcca, probes = read_table(snakemake.input.pwcca), read_table(snakemake.input.probes)
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
