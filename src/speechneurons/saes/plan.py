"""Which SAEs the workflow trains and how it uses them: the ``saes`` section's workflow keys
resolved against the dumped layers, with clear errors for keys that do not fit together."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from speechneurons.properties.statistic import property_groups
from speechneurons.properties.tables import figure_layers
from speechneurons.study import parse_erasure_name

#: the architecture the adaptive ones are compared with at equal mean L0 (trained on the whole k
#: sweep at every SAE layer)
REFERENCE = "topk"


@dataclass(frozen=True)
class SaePlan:
    """The resolved workflow keys of the ``saes`` section for one model."""

    layers: tuple[int, ...]
    """Layers with SAEs (every architecture at k)."""
    sweep_layers: tuple[int, ...]
    """Layers where every architecture is also trained at each k of the sweep (TopK is, at every
    SAE layer: :meth:`ks`)."""
    splice_layers: tuple[int, ...]
    """Layers where SAEs are spliced into the model and units erased."""
    k: int
    """The main budget."""
    k_sweep: tuple[int, ...]
    """Further budgets of the sweep (the main k left out)."""

    def ks(self, layer: int, architecture: str | None = None) -> list[int]:
        """Budgets trained at ``layer`` for ``architecture``: the main k, then the sweep's on
        sweep layers; TopK (REFERENCE) gets the sweep's on every SAE layer too, so that its FVU
        against mean L0 brackets the adaptive SAEs' at the main k and the equal-L0 comparison is
        read at every SAE layer (``architecture`` None: the budgets of the adaptive ones)."""
        if int(layer) in self.sweep_layers or (architecture == REFERENCE and int(layer) in self.layers):
            return [self.k, *self.k_sweep]
        return [self.k]


def _middle(layers: Sequence[int]) -> tuple[int, ...]:
    return (layers[(len(layers) - 1) // 2],) if layers else ()


def sae_plan(section: Mapping, dumped_layers: Sequence[int], n_pitch_bins: int) -> SaePlan:
    """Resolve ``section`` (the validated ``saes`` config section) for a model whose dump has
    ``dumped_layers``: empty ``layers`` = first, middle and last dumped layer; empty
    ``sweep_layers`` and ``splice_layers`` = the middle SAE layer. Raises ValueError naming the
    key when layers are not dumped, sweep or splice layers have no SAEs, an erasure
    architecture is not trained or an erasure group does not exist."""
    dumped = sorted({int(layer) for layer in dumped_layers})
    if section["layers"]:
        missing = sorted(set(section["layers"]) - set(dumped))
        if missing:
            raise ValueError(
                f"saes.layers {missing} are not in the activation dump (dumped layers: {dumped}); "
                "choose among those or add them to activations.layers"
            )
        layers = tuple(sorted(int(layer) for layer in section["layers"]))
    else:
        layers = tuple(figure_layers([], dumped))
    resolved = {}
    for key in ("sweep_layers", "splice_layers"):
        chosen = tuple(sorted(int(layer) for layer in section[key])) or _middle(layers)
        missing = sorted(set(chosen) - set(layers))
        if missing:
            raise ValueError(f"saes.{key} {missing} have no SAEs (SAE layers: {list(layers)}); add them to saes.layers")
        resolved[key] = chosen
    unknown = sorted(set(section["erasure_architectures"]) - set(section["architectures"]))
    if unknown:
        raise ValueError(f"saes.erasure_architectures {unknown} are not trained; add them to saes.architectures")
    groups = property_groups(n_pitch_bins)
    for name in section["erasures"]:
        prop, group = parse_erasure_name(name)
        if group not in groups.get(prop, ()):
            raise ValueError(
                f"saes.erasures: {name!r} is not a group (groups: "
                f"{', '.join(f'{p}-{g}' for p, gs in groups.items() for g in gs)})"
            )
    k = int(section["k"])
    return SaePlan(
        layers=layers,
        sweep_layers=resolved["sweep_layers"],
        splice_layers=resolved["splice_layers"],
        k=k,
        k_sweep=tuple(sorted({int(x) for x in section["k_sweep"]} - {k})),
    )
