"""Benchmarks (not tests): throughput and memory of the workflow's heavy steps.

``python -m bench`` (``make bench``) runs every ``bench/bench_*.py`` module's ``main()``;
``python -m bench activations`` runs one. Results are printed and written as JSON under
``benchmarks/bench/``.
"""
