"""pruning.tsv: unpruned vs each strategy at each sparsity, with bootstrap intervals."""

from speechneurons.experiments.pruning import pruning_table
from speechneurons.io import read_json, read_table, write_table
from speechneurons.logs import script_logging
from speechneurons.probing.probes import resolve_layers

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    p = snakemake.params
    unpruned = read_table(snakemake.input.unpruned)
    best = read_json(snakemake.input.best)
    roles = resolve_layers(p.probe_layers, best["num_layers"], best["best"], sorted(unpruned["task"].unique()))
    # the order of the inputs; the keep strategies have no nominal sparsity (None)
    keys = [(strategy, None if sparsity is None else float(sparsity)) for strategy, sparsity in p.variants]
    variants = {key: read_table(path) for key, path in zip(keys, snakemake.input.losses)}
    plans = {key: read_table(path) for key, path in zip(keys, snakemake.input.plans)}
    table = pruning_table(unpruned, variants, plans, roles, p.resamples, p.seed, p.level)
    log.info("\n%s", table.to_string(index=False))
    write_table(table, snakemake.output.table)
