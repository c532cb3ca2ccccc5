"""The neurons each erasure silences: a group's property neurons in every layer, and a random
control of the same size per layer matched by nearest activation rate (its balance over
experiments.control_draws draws in random_match.tsv), drawn from the neurons that are no
property's neurons (so that the control of gender-M never erases gender-F neurons)."""

from speechneurons.experiments.jobs import erasure_sets
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    erasure_sets(snakemake.input, snakemake.output, snakemake.params)
