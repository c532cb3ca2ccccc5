"""The jobs of the findings stage: one function per script (``scripts/findings_<job>.py`` runs
``findings.jobs.<job>``). A job takes the rule's ``input``, ``output`` and ``params`` (Snakemake's
named lists, or any object with those attributes, e.g. a SimpleNamespace in a test), reads
its inputs, calls the library and writes its outputs."""

import logging
from pathlib import Path

import pandas as pd

from speechneurons.findings.claims import table
from speechneurons.findings.counts import count_controls
from speechneurons.findings.dissection import dissection_findings
from speechneurons.findings.dissection_kinds import kinds_findings, twin_layers
from speechneurons.findings.factors import NOT_RUN, factor_findings
from speechneurons.findings.layer_guide import layer_guide_findings
from speechneurons.findings.page import splits_statement, write_page
from speechneurons.findings.planted_concepts import planted_concept_findings
from speechneurons.findings.positive_controls import control_section
from speechneurons.findings.property_neurons import property_neuron_findings
from speechneurons.findings.saes import sae_findings
from speechneurons.findings.trajectories import trajectory_findings
from speechneurons.io import load_npz, paths, read_json, read_table, write_table
from speechneurons.properties.nulls import random_mean

log = logging.getLogger(__name__)


def _tables(paths) -> list[pd.DataFrame]:
    return [read_table(p) for p in (paths or [])]


def _similarities(paths) -> list[dict]:
    out = []
    for p in paths or []:
        with load_npz(p) as z:
            out.append({k: z[k] for k in z.files})
    return out


def kinds_and_guide(inp, p) -> list:
    """The rows of AND's model behaviours and of Pasad's layer guide (findings.dissection_kinds,
    findings.layer_guide); inputs absent from ``inp`` count as not produced. The random-weights
    control (``and_control_neurons``, ``and_control_shared``) and the CTC fine-tuned twin
    (``twin_neurons``, ``twin_similarity``) are optional."""
    get = lambda name: getattr(inp, name, None) or []  # noqa: E731
    neurons = _tables(get("and_neurons"))
    ssl = twin_layers(neurons, _similarities(get("and_similarity")))
    twin = twin_layers(_tables(get("twin_neurons")), _similarities(get("twin_similarity"))) or None
    rows = kinds_findings(
        neurons,
        _tables(get("and_shared")),
        _tables(get("and_control_neurons")),
        _tables(get("and_control_shared")),
        ssl,
        twin,
        p.polysemantic_fraction,
        p.resamples,
        p.seed,
        p.level,
    )
    losses = get("probe_losses")
    pwcca = get("traj_pwcca")
    rows += layer_guide_findings(
        read_table(pwcca) if pwcca else None,
        read_table(losses) if losses else None,
        p.resamples,
        p.seed,
        p.level,
    )
    return rows


def planted_concept_rows(inp, p) -> list:
    """The positive-control rows of a planted concept model (findings.planted_concepts): its
    planted.json (``inp.planted_model``, the planted model's folder; absent or empty for any
    other model) against the phone items of its dissected layers; none for other models."""
    folder = getattr(inp, "planted_model", None)
    if not folder or not (Path(str(folder)) / "planted.json").exists():
        return []
    get = lambda name: getattr(inp, name, None) or []  # noqa: E731
    return planted_concept_findings(
        read_json(Path(str(folder)) / "planted.json"),
        _tables(get("and_neurons")),
        _tables(get("and_shared")),
        p.n_permutations,
        p.seed,
        p.level,
    )


def findings_page(inp, out, p) -> None:
    """findings.tsv and findings.html: the claims of the four studies checked on this run's tables,
    grouped by study on the page."""
    replicates = pd.concat(
        [read_table(path).assign(layer=layer) for layer, path in zip(p.layers, inp.replicates, strict=True)],
        ignore_index=True,
    )
    # the mean over the random-weights seeds (properties.random_weights_seeds)
    random_summary = random_mean([read_table(x) for x in paths(inp.random_weights)])
    factors = _factor_findings(inp, p)
    findings = table(
        property_neuron_findings(
            read_table(inp.summary),
            replicates,
            random_summary,
            read_table(inp.pruning),
            read_table(inp.erasure),
            p.level,
            read_table(inp.control_effects) if inp.control_effects else None,
            p.sid_unit,
        )
        + trajectory_findings(
            read_table(inp.traj_findings),
            read_table(inp.traj_pwcca),
            read_table(inp.traj_trials),
            read_table(inp.reset_top),
            p.num_layers,
            p.reset_checkpoint,
            level=p.level,
            resamples=p.resamples,
            seed=p.seed,
        )
        + dissection_findings(
            read_table(inp.dissection_summary),
            read_table(inp.dissection_agreement),
            read_table(inp.dissection_pruning) if inp.dissection_pruning else None,
            p.dissection_kinds,
            p.pruning_families,
            read_table(inp.dissection_random_summary) if inp.dissection_random_summary else None,
            read_table(inp.dissection_random_agreement) if inp.dissection_random_agreement else None,
        )
        + planted_concept_rows(inp, p)
        + kinds_and_guide(inp, p)
        + sae_findings(read_table(inp.sae_claims), p.sae_k, p.sae_tolerance, p.level)
        + factors
    )
    write_table(findings, out.table)
    context = [
        f"Model {p.model} on corpus {p.corpus}: every claim below is checked on this run's own result files.",
        splits_statement(**p.splits),
    ]
    if not factors:
        context.append(NOT_RUN)
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
        sae_control = getattr(p, "sae_control_table", None)
        sections.append(control_section(findings, p.positive_controls, p.power_table, sae_control))
    write_page(findings, out.page, f"Findings: {p.model} on {p.corpus}", context, p.level, sections)
    log.info("\n%s", findings[["claim", "value", "ci_low", "ci_high", "verdict"]].to_string(index=False))


def _factor_findings(inp, p) -> list:
    """The Vielzeuf rows of the pretraining-factor study (none when it does not run)."""
    runs = getattr(p, "factor_runs", None) or []
    equal_steps = getattr(inp, "factors_equal_steps", None)
    if not runs or not equal_steps:
        return []
    heldout = {r["run"]: read_table(path) for r, path in zip(runs, inp.factors_heldout, strict=True)}
    return factor_findings(runs, read_table(equal_steps), heldout)


def findings_power(inp, out, p) -> None:
    """power.tsv and power.png: the share of simulated runs with planted property neurons whose
    verdict is "holds", against planted effect and corpus size (docs/positive-controls.md): the
    claims of Lin et al. and, with ``p.dissection`` (the dissection section), the dissection
    agreement claim."""
    from speechneurons.config import settings_from
    from speechneurons.findings.power import PowerSettings, plot_power, power_table, smallest_detected
    from speechneurons.properties.statistic import PropertySettings

    ps = settings_from(PowerSettings, p.power)
    settings = settings_from(PropertySettings, p.properties)
    power = power_table(ps, settings, p.n_pitch_bins, p.level)
    if getattr(p, "dissection", None) is not None:  # the dissection agreement claim (findings.power_dissection)
        from speechneurons.dissection.settings import DissectionSettings
        from speechneurons.findings.power_dissection import agreement_power_table

        dissection = settings_from(DissectionSettings, p.dissection)
        agreement = agreement_power_table(ps, settings, dissection, p.n_pitch_bins, p.level, p.power["test_fraction"])
        power = pd.concat([power, agreement], ignore_index=True)
    write_table(power, out.table)
    default = 40 * ps.n_speakers
    plot_power(power, out.figure, default)
    log.info("\n%s", power.to_string(index=False))
    log.info("smallest effect with power >= 0.8 at %d utterances: %s", default, smallest_detected(power, default))


def findings_sae_control(inp, out, p) -> None:
    """saes.tsv, saes_recovery.tsv and saes.png: the SAE claims on simulated activations with a
    planted sparse dictionary and on its null twin (docs/positive-controls.md)."""
    import time

    import torch

    from speechneurons.config import settings_from
    from speechneurons.findings.sae_control import SaeControlSettings, plot_sae_control, sae_control

    torch.set_num_threads(1)  # one core, the same numbers on every machine
    t0 = time.process_time()
    cs = settings_from(SaeControlSettings, p.control)
    control = sae_control(cs, p.saes, p.seed, p.resamples, p.level)
    write_table(control.verdicts, out.table)
    write_table(control.saes, out.saes)
    plot_sae_control(control, cs.k, out.figure)
    log.info("verdicts:\n%s", control.verdicts[["twin", "claim", "verdict", "value"]].to_string(index=False))
    log.info("SAEs:\n%s", control.saes.to_string(index=False))
    log.info("the Zipf test on the planted frequencies themselves: %s", control.truth_zipf)
    log.info("%.1f CPU-seconds", time.process_time() - t0)
