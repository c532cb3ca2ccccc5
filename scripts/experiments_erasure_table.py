"""erasure.tsv: each erasure per evaluation group against the unerased model and its control."""

from speechneurons.experiments.erasure import erasure_matrix, erasure_table
from speechneurons.io import read_json, read_table, write_table
from speechneurons.logs import script_logging
from speechneurons.probing.probes import resolve_layers

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    p = snakemake.params
    baseline = read_table(snakemake.input.unpruned)
    best = read_json(snakemake.input.best)
    roles = resolve_layers(p.probe_layers, best["num_layers"], best["best"], sorted(baseline["task"].unique()))
    keys = [tuple(key) for key in p.variants]  # (erasure, kind) in the order of the inputs
    variants = {key: read_table(path) for key, path in zip(keys, snakemake.input.losses)}
    n_erased = {key: read_json(path)["n_erased"] for key, path in zip(keys, snakemake.input.neurons)}
    table = erasure_table(baseline, variants, n_erased, roles, p.resamples, p.seed, p.level)
    log.info("\n%s", table.to_string(index=False))
    write_table(table, snakemake.output.table)
    for prop, path in (("gender", snakemake.output.gender), ("phone_type", snakemake.output.phone_type)):
        matrix = erasure_matrix(table, prop)
        log.info("%s erasure table:\n%s", prop, matrix.to_string(index=False))
        write_table(matrix, path)
