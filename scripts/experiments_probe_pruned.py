"""Probe a pruned model at the configured layers (last / best of the unpruned model)."""

from speechneurons.logs import script_logging

with script_logging(snakemake.log[0]) as log:
    import torch

    from speechneurons.io import read_json, read_table, write_table
    from speechneurons.model.registry import load_model
    from speechneurons.experiments.probes import ProbeSettings, evaluate, resolve_layers

    torch.set_num_threads(snakemake.threads)
    p = snakemake.params.probe
    settings = ProbeSettings(**{**p, "tasks": tuple(p["tasks"])})
    best = read_json(snakemake.input.best)
    roles = resolve_layers(snakemake.params.probe_layers, best["num_layers"], best["best"], settings.tasks)
    loaded = load_model(snakemake.input.model, snakemake.params.device)
    log.info("FFN widths %s; probe layers %s", loaded.ffn_widths, roles)
    losses, _ = evaluate(
        loaded.model,
        read_table(snakemake.input.manifest),
        read_table(snakemake.input.labels),
        read_table(snakemake.input.pitch),
        {task: list(r) for task, r in roles.items()},
        settings,
        loaded.device,
        normalize=loaded.do_normalize,
        on_bad_input=snakemake.params.on_bad_input,
    )
    write_table(losses, snakemake.output.losses)
