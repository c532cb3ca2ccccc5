"""The jobs of the pitch stage: one function per script (``scripts/pitch_<job>.py`` runs
``pitch.jobs.<job>``). A job takes the rule's ``input``, ``output`` and ``params`` (Snakemake's
named lists, or any object with those attributes, e.g. a SimpleNamespace in a test), reads
its inputs, calls the library and writes its outputs."""

import logging

from speechneurons.config import settings_from
from speechneurons.corpus.manifest import read_manifest
from speechneurons.frames import FrameGrid
from speechneurons.io import read_json, read_table, write_json, write_table
from speechneurons.pitch.f0 import PitchSettings, extract_corpus
from speechneurons.pitch.groups import pitch_groups

# Heavy imports (torch, the model, matplotlib, ...) live in the jobs that use them: a job process
# pays only for its own, and most jobs are small (issue 28).

log = logging.getLogger(__name__)


def f0(inp, out, p) -> None:
    """F0 of every manifest utterance with Praat, on the model frame grid -> f0.parquet (+ skipped.tsv)."""
    grid, settings = FrameGrid.from_config(p.frames), settings_from(PitchSettings, p.settings)
    manifest = read_manifest(inp.manifest)
    log.info("F0 of %d utterances, settings %s", len(manifest), settings)
    table, skipped = extract_corpus(manifest, grid, settings, p.on_bad_input)
    log.info(
        "%d frames, %d voiced (%.1f%%), %d utterances skipped",
        len(table),
        int(table["voiced"].sum()),
        100 * table["voiced"].mean() if len(table) else 0.0,
        len(skipped),
    )
    write_table(table, out.f0)
    write_table(skipped, out.skipped)


def figure(inp, out, p) -> None:
    """Figure: F0 distributions per gender and per speaker with the pitch-group cut points."""
    from speechneurons.pitch.figures import plot_f0_distributions

    frames = read_table(inp.frames, columns=["utt_id", "f0_hz", "voiced"])
    manifest = read_manifest(inp.manifest)
    info = read_json(inp.bins)
    plot_f0_distributions(frames, manifest, info, out.png, title=p.title)


def groups(inp, out, p) -> None:
    """Pitch groups: cut the F0 of voiced frames into equal-count bins -> pitch_frames.parquet, pitch_bins.json."""
    manifest = read_manifest(inp.manifest)
    gender_of = dict(zip(manifest["utt_id"], manifest["gender"]))
    frames, info = pitch_groups(read_table(inp.f0), p.n_bins, p.binning, gender_of, source=inp.f0)
    log.info("cut points (Hz): %s; counts: %s", info["cut_points_hz"], info["counts"])
    write_table(frames, out.frames)
    write_json(out.bins, info)
