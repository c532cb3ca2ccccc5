"""The pretraining runs compared: one row per run at its final checkpoint, and every run's
PWCCA and probe errors at the steps all runs saved (equal compute)."""

from speechneurons.io import read_table, write_table
from speechneurons.logs import script_logging
from speechneurons.trajectories.runs import common_steps
from speechneurons.trajectories.tables import at_steps, compare_runs, long_measures

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    p, inp, out = snakemake.params, snakemake.input, snakemake.output
    names = [r["run"] for r in p.runs]
    read = lambda files: dict(zip(names, (read_table(f) for f in files)))  # noqa: E731
    findings, pwcca, probes = read(inp.findings), read(inp.pwcca), read(inp.probes)
    table = compare_runs(p.runs, findings, probes, read(inp.reset_top), read(inp.heldout))
    measures = {r: long_measures(pwcca[r], probes[r]) for r in names}
    steps = common_steps({r: m["step"].dropna().astype(int).tolist() for r, m in measures.items()})
    log.info("runs:\n%s\nsteps every run saved (equal compute): %s", table.to_string(index=False), steps)
    write_table(table, out.runs)
    write_table(at_steps(measures, steps), out.equal_steps)
