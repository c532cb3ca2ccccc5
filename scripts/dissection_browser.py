"""The neuron browser: an HTML page of neuron cards (description, top concepts, top and bottom
items with playable snippets) for the most interpretable and the property neurons of each layer."""

import pandas as pd

from speechneurons.config import settings_from
from speechneurons.corpus.manifest import read_manifest
from speechneurons.dissection.browser import write_browser
from speechneurons.dissection.describe import read_items
from speechneurons.dissection.settings import BrowserSettings
from speechneurons.dissection.tables import browser_neurons
from speechneurons.io import read_table
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake


def layer_lines(summary: pd.DataFrame, agreement: pd.DataFrame) -> dict:
    """{layer: {kind: one line}}: the uninterpretable share against chance and the phone-type agreement."""
    out = {}
    for r in summary.itertuples(index=False):
        line = (f"Layer {r.layer}: {100 * r.uninterpretable_share:.1f}% of {r.n_neurons} neurons uninterpretable "
                f"(shuffled attributes: {100 * r.chance_share:.1f}%).")  # fmt: skip
        a = agreement[(agreement["layer"] == r.layer) & (agreement["kind"] == r.kind) & (agreement["n"] > 0)
                      & (agreement["measure"] == "within")]  # fmt: skip
        a = a[a["split"] == ("held_out" if (a["split"] == "held_out").any() else "selected")]
        for g in a.itertuples(index=False):
            line += (f" {g.property} neurons: {100 * g.observed:.0f}% own group on {g.split.replace('_', '-')} "
                     f"items (shuffled {100 * g.null_mean:.0f}%, n={g.n}).")  # fmt: skip
        out.setdefault(int(r.layer), {})[r.kind] = line
    return out


with script_logging(snakemake.log[0]) as log:
    p, inp = snakemake.params, snakemake.input
    settings = settings_from(BrowserSettings, p.settings)
    neurons = pd.concat([read_table(path) for path in inp.neurons], ignore_index=True)
    chosen = browser_neurons(neurons, settings.n_neurons, settings.property_neurons)
    shared = pd.concat([read_table(path) for path in inp.shared], ignore_index=True)
    shared = shared.merge(chosen[["layer", "kind", "neuron"]], on=["layer", "kind", "neuron"])
    items = pd.concat(
        [read_items(inp.phone_table, inp.phone_meta).table.assign(kind="phone"),
         read_items(inp.utterance_table, inp.utterance_meta).table.assign(kind="utterance")],
        ignore_index=True,
    )  # fmt: skip
    manifest = read_manifest(inp.manifest)
    stats = layer_lines(read_table(inp.summary), read_table(inp.agreement))
    info = write_browser(snakemake.output.browser, chosen, shared, items, dict(zip(manifest["utt_id"],
                         manifest["audio_path"])), settings, p.title, stats=stats)  # fmt: skip
    log.info("%d cards of %d neurons; %s", len(chosen), len(neurons), info)
