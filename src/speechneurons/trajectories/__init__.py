"""Layer-wise analysis during pretraining (Vielzeuf 2024; DESIGN.md).

- :mod:`.cca`: CCA by SVD, PWCCA and the held-out protocol of ankitapasad/layerwise-analysis;
- :mod:`.features`: the views (log-Mel, CNN output, hidden states, segment means, one-hot labels);
- :mod:`.measures`: PWCCA of every layer against every view, as a table;
- :mod:`.finetune`: CTC phone fine-tuning with the top n layers re-initialised, PER with a
  bootstrap interval;
- :mod:`.figures`: layer curves, checkpoint x layer heat maps, PER against n;
- :mod:`.settings`: the ``trajectories`` config section.
"""
