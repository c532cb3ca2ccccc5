"""Layer-wise analysis during pretraining (Vielzeuf 2024; DESIGN.md; docs/trajectories.md).

- :mod:`.cca`: CCA by SVD, PWCCA and the held-out protocol of ankitapasad/layerwise-analysis;
- :mod:`.features`: the views (log-Mel, front-end output, hidden states, segment means, one-hot labels);
- :mod:`.measures`: PWCCA of every layer against every view, and the experiments' probes, per checkpoint;
- :mod:`.finetune`: CTC phone fine-tuning with the top n layers re-initialised, the learning rate
  chosen on a dev part of train, PER with a bootstrap interval;
- :mod:`.tables`: the measures gathered by step, what they show, property counts, runs compared;
- :mod:`.runs`: checkpoints by global step, runs (pretrained models) and equal compute (no torch);
- :mod:`.figures`: layer curves, checkpoint x layer heat maps, counts, PER against n, runs side by side;
- :mod:`.settings`: the ``trajectories`` config section.
"""
