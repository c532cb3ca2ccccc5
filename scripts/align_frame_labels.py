"""Frame labels (utt_id, frame, phone, word, is_mid) on the model frame grid from the TextGrids."""

from speechneurons.align.frame_labels import build_frame_labels
from speechneurons.corpus.manifest import read_manifest
from speechneurons.frames import FrameGrid
from speechneurons.io import read_table, write_table
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    manifest = read_manifest(snakemake.input.manifest)
    report = read_table(snakemake.input.report, dtype={"utt_id": str})
    failed = report.loc[report.status == "failed", "utt_id"]
    table, summary = build_frame_labels(
        manifest,
        snakemake.input.textgrids,
        FrameGrid.from_config(snakemake.params.frames),
        failed,
        snakemake.params.on_bad_input,
    )
    write_table(table, snakemake.output.labels)
    write_table(summary, snakemake.output.utterances)
    log.info(
        "%d frames (%d middle frames) of %d utterances; %d speech segments own no frame",
        len(table),
        int(table.is_mid.sum()),
        table.utt_id.nunique(),
        int(summary["n_speech_segments_without_frame"].fillna(0).sum()),
    )
