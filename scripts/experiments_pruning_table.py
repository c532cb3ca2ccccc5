"""pruning.tsv: unpruned vs each strategy at each sparsity, with bootstrap intervals."""

from speechneurons.logs import script_logging

with script_logging(snakemake.log[0]) as log:
    from pathlib import Path

    from speechneurons.io import read_json, read_table, write_table
    from speechneurons.experiments.probes import resolve_layers
    from speechneurons.experiments.pruning import pruning_table

    def key(path):  # .../prune/<strategy>/sparsity-<s>/<file>
        parts = Path(path).parts
        return parts[-3], float(parts[-2].removeprefix("sparsity-"))

    par = snakemake.params
    unpruned = read_table(snakemake.input.unpruned)
    best = read_json(snakemake.input.best)
    roles = resolve_layers(par.probe_layers, best["num_layers"], best["best"], sorted(unpruned["task"].unique()))
    variants = {key(p): read_table(p) for p in snakemake.input.losses}
    plans = {key(p): read_table(p) for p in snakemake.input.plans}
    table = pruning_table(unpruned, variants, plans, roles, par.n_boot, par.seed, par.level)
    log.info("\n%s", table.to_string(index=False))
    write_table(table, snakemake.output.table)
