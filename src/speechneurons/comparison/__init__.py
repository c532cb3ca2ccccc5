"""Several models (and corpora) side by side: the per-pair tables stacked with ``corpus`` and
``model`` columns, and the property-neuron share against relative depth for every model next
to Lin et al.'s MelHuBERT."""
