"""The pretraining runs side by side at equal steps: per PWCCA view and per probe task, one
panel of layer curves per run; PER against n reset layers for every run."""

import pandas as pd

from speechneurons.io import read_table
from speechneurons.logs import script_logging
from speechneurons.plotting import save_unavailable
from speechneurons.trajectories.figures import PROBE_LABELS, PWCCA_LABEL, VIEW_TITLES, plot_runs, plot_runs_reset_top

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    p, inp, out = snakemake.params, snakemake.input, snakemake.output
    table = read_table(inp.equal_steps)
    labels = dict(zip(*read_table(inp.runs)[["run", "factor"]].T.to_numpy()))
    for view, path in zip(p.views, out.pwcca):
        rows = table[(table["measure"] == "pwcca") & (table["key"] == view)]
        if rows.empty:
            save_unavailable(path, f"PWCCA with {VIEW_TITLES[view]}", f"no run has PWCCA of the view '{view}'")
            continue
        plot_runs(rows, path, ylabel=PWCCA_LABEL, title=f"PWCCA with {VIEW_TITLES[view]}", labels=labels,
                  spread="standard deviation over trials")  # fmt: skip
    for task, path in zip(p.tasks, out.probes):
        rows = table[(table["measure"] == "probe") & (table["key"] == task)]
        ylabel, name = PROBE_LABELS[task]
        if rows.empty:
            save_unavailable(path, f"{name}, test error", f"no run has {task} probe scores")
            continue
        plot_runs(rows, path, ylabel=ylabel, title=f"{name}, test error", labels=labels,
                  spread=f"{100 * p.level:g} % bootstrap interval")  # fmt: skip
    reset = pd.concat([read_table(f).assign(run=r) for r, f in zip(p.runs, inp.reset_top)], ignore_index=True)
    plot_runs_reset_top(reset, out.reset_top, p.level)
    log.info("%d runs compared at steps %s", len(p.runs), sorted(table["step"].dropna().unique().tolist()))
