"""The jobs of the findings stage: one function per script (``scripts/findings_<job>.py`` runs
``findings.jobs.<job>``). A job takes the rule's ``input``, ``output`` and ``params`` (Snakemake's
named lists, or any object with those attributes, e.g. a SimpleNamespace in a test), reads
its inputs, calls the library and writes its outputs."""

import logging

import pandas as pd

from speechneurons.findings.claims import table
from speechneurons.findings.counts import count_controls
from speechneurons.findings.dissection import dissection_findings
from speechneurons.findings.page import splits_statement, write_page
from speechneurons.findings.positive_controls import control_section
from speechneurons.findings.property_neurons import property_neuron_findings
from speechneurons.findings.saes import sae_findings
from speechneurons.findings.trajectories import trajectory_findings
from speechneurons.io import read_table, write_table

log = logging.getLogger(__name__)


def findings_page(inp, out, p) -> None:
    """findings.tsv and findings.html: the claims of the four studies checked on this run's tables,
    grouped by study on the page."""
    replicates = pd.concat(
        [read_table(path).assign(layer=layer) for layer, path in zip(p.layers, inp.replicates, strict=True)],
        ignore_index=True,
    )
    random_summary = read_table(inp.random_weights) if inp.random_weights else None
    findings = table(
        property_neuron_findings(
            read_table(inp.summary),
            replicates,
            random_summary,
            read_table(inp.pruning),
            read_table(inp.erasure),
            p.level,
            read_table(inp.control_effects) if inp.control_effects else None,
        )
        + trajectory_findings(
            read_table(inp.traj_findings),
            read_table(inp.traj_pwcca),
            read_table(inp.traj_trials),
            read_table(inp.reset_top),
            p.num_layers,
            p.reset_checkpoint,
        )
        + dissection_findings(
            read_table(inp.dissection_summary),
            read_table(inp.dissection_agreement),
            read_table(inp.dissection_pruning) if inp.dissection_pruning else None,
            p.dissection_kinds,
            p.pruning_families,
        )
        + sae_findings(read_table(inp.sae_claims), p.sae_k, p.sae_tolerance)
    )
    write_table(findings, out.table)
    context = [
        f"Model {p.model} on corpus {p.corpus}: every claim below is checked on this run's own result files.",
        splits_statement(**p.splits),
    ]
    counts = (
        "Property-neuron counts and their controls",
        "Per layer: the count; its chance range (central range under the property's own null: speakers relabeled "
        "for gender, labels shifted circularly within each utterance for phone type and pitch) and rank p-value; "
        "the count of the same architecture with random weights on the same data (the primary control: a count "
        "an untrained network gives is not learned) and its chance range; trained minus random.",
        count_controls(read_table(inp.summary)),
    )
    sections = [counts]
    if hasattr(p, "positive_controls"):  # the planted runs of this model and the simulated power
        sections.append(control_section(findings, p.positive_controls, p.power_table))
    write_page(findings, out.page, f"Findings: {p.model} on {p.corpus}", context, p.level, sections)
    log.info("\n%s", findings[["claim", "value", "ci_low", "ci_high", "verdict"]].to_string(index=False))


def findings_power(inp, out, p) -> None:
    """power.tsv and power.png: the share of simulated runs with planted property neurons whose
    verdict is "holds", against planted effect and corpus size (docs/positive-controls.md)."""
    from speechneurons.config import settings_from
    from speechneurons.findings.power import PowerSettings, plot_power, power_table, smallest_detected
    from speechneurons.properties.statistic import PropertySettings

    ps = settings_from(PowerSettings, p.power)
    settings = settings_from(PropertySettings, p.properties)
    power = power_table(ps, settings, p.n_pitch_bins, p.level)
    write_table(power, out.table)
    default = 40 * ps.n_speakers
    plot_power(power, out.figure, default)
    log.info("\n%s", power.to_string(index=False))
    log.info("smallest effect with power >= 0.8 at %d utterances: %s", default, smallest_detected(power, default))
