"""Tables and figures of the SAE study: every SAE with intervals, the paper's two claims,
SAE latents against neurons as carriers of properties (each count with its chance level and
the cost of erasing them), and the figures."""

from speechneurons.io import read_json, read_table, write_table
from speechneurons.logs import script_logging
from speechneurons.saes.evaluation import load_evaluations
from speechneurons.saes.plots import (
    plot_dead_share,
    plot_density_rank,
    plot_fvu_vs_l0,
    plot_l0_distributions,
    plot_units,
)
from speechneurons.saes.tables import (
    add_convergence,
    claims_table,
    evaluation_table,
    features_vs_neurons,
    r_max_table,
    splice_columns,
    units_table,
)

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    p, inp, out = snakemake.params, snakemake.input, snakemake.output
    keys = [(int(layer), arch) for layer, arch, _ in p.sae_keys]  # the order of the per-SAE inputs
    evaluations, base_rates = {}, {}
    for (layer, arch), tsv, npz in zip(keys, inp.evaluations, inp.sums, strict=True):
        table = read_table(tsv)
        evs, _ = load_evaluations(npz, table)
        evaluations |= {(layer, arch, k): ev for k, ev in evs.items()}
        base_rates[layer, arch] = float(table.loc[table["k"] == p.k, "stat_base_rate"].iloc[0])
    evaluation = evaluation_table(evaluations, p.resamples, p.seed, p.level)
    evaluation = splice_columns(evaluation, read_table(inp.splice), read_table(inp.masked) if inp.masked else None,
                                p.k)  # fmt: skip
    claims = claims_table(evaluations, p.k, p.sweep_layers, p.resamples, p.seed, p.level)
    claims = add_convergence(claims, {key: read_table(path) for key, path in zip(keys, inp.train_logs, strict=True)})
    log.info("SAEs:\n%s\nclaims:\n%s", evaluation.to_string(index=False), claims.to_string(index=False))
    write_table(evaluation, out.evaluation)
    write_table(claims, out.claims)

    # units: latents (from the SAE jobs) and neurons (properties stage), each with its permutation null
    layers = sorted({layer for layer, _ in keys})
    docs = {key: read_json(path) for key, path in zip(keys, inp.latents, strict=True)}
    nulls = {key: read_table(path) for key, path in zip(keys, inp.nulls, strict=True)}
    for layer, neurons, null in zip(layers, inp.neurons, inp.neuron_nulls, strict=True):
        docs[layer, "neurons"] = read_json(neurons)
        nulls[layer, "neurons"] = read_table(null)
        base_rates[layer, "neurons"] = docs[layer, "neurons"]["tau"] / docs[layer, "neurons"]["D"]
    units = units_table(docs, nulls, base_rates)
    fvn = features_vs_neurons(units, read_table(inp.erasure), p.erasures, p.splice_layers)
    log.info("units:\n%s\nfeatures against neurons:\n%s", units[units.group == ""].to_string(index=False),
             fvn.to_string(index=False))  # fmt: skip
    write_table(units, out.units)
    write_table(fvn, out.features_vs_neurons)

    # figures
    main = {layer: {arch: evaluations[layer, arch, p.k] for l2, arch in keys if l2 == layer} for layer in layers}
    plot_fvu_vs_l0(evaluation[evaluation.layer.isin(p.sweep_layers)], out.fvu_vs_l0, title=p.title)
    plot_dead_share(evaluation[evaluation.k == p.k], out.dead_share, title=p.title)
    plot_density_rank(main, out.density_rank, title=p.title)
    plot_l0_distributions(main, out.l0_distributions, title=p.title)
    r_files = dict(zip(keys, inp.R, strict=True))
    r_files |= {(layer, "neurons"): path for layer, path in zip(layers, inp.neuron_R, strict=True)}
    r_max = r_max_table({key: read_table(path) for key, path in r_files.items()})
    plot_units(units[units.group == ""], r_max, p.sigma, out.units_figure, title=p.title)
    log.info(
        "neurons and latents with max R_g >= sigma: %s",
        r_max.assign(passes=r_max.R_max >= p.sigma).groupby(["units", "property"]).passes.mean().to_dict(),
    )
