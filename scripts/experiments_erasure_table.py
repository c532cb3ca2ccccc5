"""erasure.tsv: each erasure per evaluation group against the unerased model and its control."""

from speechneurons.logs import script_logging

with script_logging(snakemake.log[0]) as log:
    from pathlib import Path

    from speechneurons.experiments.erasure import erasure_table
    from speechneurons.io import read_json, read_table, write_table
    from speechneurons.experiments.probes import resolve_layers

    def key(path):  # .../erasure/<property>-<group>/<kind>/<file>
        parts = Path(path).parts
        return parts[-3], parts[-2]

    par = snakemake.params
    baseline = read_table(snakemake.input.unpruned)
    best = read_json(snakemake.input.best)
    roles = resolve_layers(par.probe_layers, best["num_layers"], best["best"], sorted(baseline["task"].unique()))
    variants = {key(p): read_table(p) for p in snakemake.input.losses}
    n_erased = {key(p): read_json(p)["n_erased"] for p in snakemake.input.neurons}
    table = erasure_table(baseline, variants, n_erased, roles, par.n_boot, par.seed, par.level)
    log.info("\n%s", table.to_string(index=False))
    write_table(table, snakemake.output.table)
