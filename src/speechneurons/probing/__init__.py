"""Frozen-feature probes, shared by every stage that probes a model: :mod:`.features` (which
frames and utterances, and their features from a model variant), :mod:`.probes` (probe
training and per-utterance losses) and :mod:`.scoring` (metrics with bootstrap intervals,
paired differences between variants)."""
