"""Prune one (strategy, sparsity) variant, optionally continue pretraining, save it smaller."""

from speechneurons.logs import script_logging

with script_logging(snakemake.log[0]) as log:
    import torch
    from transformers import Wav2Vec2FeatureExtractor

    from speechneurons.io import atomic_dir, write_table
    from speechneurons.model.registry import load_model
    from speechneurons.experiments.pruning import ffn_pairs, load_property_neurons, plan_pruning, plan_table, protected_neurons, prune_model_

    torch.set_num_threads(snakemake.threads)
    strategy, sparsity, par = snakemake.wildcards.strategy, snakemake.params.sparsity, snakemake.params
    protected = protected_neurons(load_property_neurons(snakemake.input.neurons), par.protect_properties)
    loaded = load_model(par.ref, par.device)
    pairs = ffn_pairs(loaded.model)
    for layer in sorted(set(pairs) - set(protected)):
        log.warning("layer %d has no property statistics: nothing protected there", layer)
    plan = plan_pruning(pairs, strategy, sparsity, protected, seed=par.seed)
    table = plan_table(plan, strategy, sparsity)
    log.info("plan:\n%s", table.to_string(index=False))
    prune_model_(loaded.model, plan)
    if par.steps > 0:  # continued HuBERT pretraining of the pruned model, with its head when saved
        from pathlib import Path

        from speechneurons.model.hubert import HEAD_FILE, load_head
        from speechneurons.model.pretrain import continue_pretraining

        head = load_head(par.ref) if (Path(par.ref) / HEAD_FILE).exists() else None
        _, _, train_log = continue_pretraining(loaded.model, snakemake.input.manifest, snakemake.input.targets, par.steps, head=head,
                                               grid=loaded.grid, options=dict(par.pretrain), device=loaded.device, seed=par.seed)
        log.info("continued pretraining:\n%s", train_log.tail().to_string(index=False))
        loaded.model.config.apply_spec_augment = False
    with atomic_dir(snakemake.output.model) as tmp:
        loaded.model.save_pretrained(tmp)
        Wav2Vec2FeatureExtractor(sampling_rate=loaded.grid.sample_rate, do_normalize=loaded.do_normalize).save_pretrained(tmp)
    write_table(table, snakemake.output.plan)
