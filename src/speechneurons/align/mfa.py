"""Montreal Forced Aligner backend: corpus preparation, the ``mfa`` command line, output collection.

MFA (conda-forge; it needs Kaldi) is run exactly as its documentation gives it:

- ``mfa align CORPUS_DIRECTORY DICTIONARY_PATH ACOUSTIC_MODEL_PATH OUTPUT_DIRECTORY`` with the
  pretrained ``english_us_arpa`` dictionary and acoustic model (downloaded once beforehand with
  ``mfa model download dictionary english_us_arpa`` and ``mfa model download acoustic
  english_us_arpa``; nothing is downloaded by the workflow), or
- ``mfa train CORPUS_DIRECTORY DICTIONARY_PATH OUTPUT_MODEL_PATH --output_directory
  OUTPUT_DIRECTORY`` (train an acoustic model on the corpus itself and export its alignments).

The corpus directory holds ``<speaker>/<utt_id>.wav`` (links to the corpus audio) and
``<speaker>/<utt_id>.lab`` (the normalised transcript). MFA writes
``OUTPUT_DIRECTORY/<speaker>/<utt_id>.TextGrid`` and leaves out utterances it cannot align
(after its own retry with ``--retry_beam``); those are counted as failed.
"""

from __future__ import annotations

import csv
import logging
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from speechneurons.align.alignment import REPORT_COLUMNS
from speechneurons.errors import BadInputError
from speechneurons.io import atomic_dir, write_table

log = logging.getLogger(__name__)


def prepare_corpus(manifest: pd.DataFrame, corpus_dir: str | Path) -> None:
    """Write the MFA corpus folder: ``<speaker>/<utt>.wav`` (symlink, else copy) and ``.lab``."""
    from speechneurons.align.pocketsphinx import normalize_words

    corpus_dir = Path(corpus_dir)
    if corpus_dir.exists():
        shutil.rmtree(corpus_dir)
    for row in manifest.itertuples(index=False):
        spk = corpus_dir / str(getattr(row, "speaker", "speaker"))
        spk.mkdir(parents=True, exist_ok=True)
        src = Path(row.audio_path).resolve()
        if not src.exists():
            raise BadInputError(src, "audio file does not exist", "Re-run the corpus stage.", str(row.utt_id))
        wav = spk / f"{row.utt_id}{src.suffix}"
        try:
            os.symlink(src, wav)
        except OSError:
            shutil.copy2(src, wav)
        (spk / f"{row.utt_id}.lab").write_text(" ".join(normalize_words(str(row.transcript))) + "\n", encoding="utf-8")


def mfa_command(
    mode: str,
    corpus_dir: str | Path,
    output_dir: str | Path,
    dictionary: str = "english_us_arpa",
    acoustic_model: str = "english_us_arpa",
    model_out: str | Path | None = None,
    num_jobs: int = 1,
    temp_dir: str | Path | None = None,
    beam: int = 10,
    retry_beam: int = 40,
    extra_args: Sequence[str] = (),
    executable: str = "mfa",
) -> list[str]:
    """The ``mfa align`` / ``mfa train`` argument list (positionals first, as in MFA's docs)."""
    common = ["--clean", "--overwrite", "--num_jobs", str(num_jobs), "--output_format", "long_textgrid"]
    if temp_dir is not None:
        common += ["--temporary_directory", str(temp_dir)]
    if mode == "align":
        cmd = [executable, "align", str(corpus_dir), dictionary, acoustic_model, str(output_dir)]
        cmd += common + ["--beam", str(beam), "--retry_beam", str(retry_beam)]
    elif mode == "train":
        if model_out is None:
            raise ValueError("mfa train needs model_out (the acoustic model .zip it writes)")
        cmd = [executable, "train", str(corpus_dir), dictionary, str(model_out), "--output_directory", str(output_dir)]
        cmd += common
    else:
        raise ValueError(f"unknown MFA mode {mode!r} (align or train)")
    return cmd + list(extra_args)


def run_mfa(cmd: Sequence[str]) -> None:
    """Run MFA, its output going to the log; raise RuntimeError with the tail on failure."""
    if shutil.which(cmd[0]) is None:
        raise RuntimeError(
            f"'{cmd[0]}' (Montreal Forced Aligner) is not on PATH. Run the workflow with --use-conda "
            "(envs/mfa.yaml installs MFA from conda-forge) or `conda install -c conda-forge montreal-forced-aligner`, "
            "download the models once (`mfa model download acoustic english_us_arpa`, "
            "`mfa model download dictionary english_us_arpa`), or choose align.aligner: pocketsphinx"
        )
    log.info("running: %s", " ".join(map(str, cmd)))
    proc = subprocess.run(list(map(str, cmd)), capture_output=True, text=True)
    log.info("mfa output:\n%s%s", proc.stdout, proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"mfa exited with status {proc.returncode}: {(proc.stdout + proc.stderr)[-2000:]}")


def _unalignable_reasons(output_dir: Path) -> dict[str, str]:
    """Reasons MFA gives in its unalignable-files list (MFA 3: unalignable_files.csv), if any."""
    reasons: dict[str, str] = {}
    for name in ("unalignable_files.csv", "unaligned.csv"):
        path = output_dir / name
        if path.exists():
            with open(path, newline="", encoding="utf-8") as fh:
                for rec in csv.DictReader(fh):
                    utt = Path(rec.get("file") or rec.get("utterance") or "").stem
                    if utt:
                        reasons[utt] = " ".join(f"{k}={v}" for k, v in rec.items() if k not in ("file", "utterance"))
    return reasons


def collect_output(
    manifest: pd.DataFrame, output_dir: str | Path, shard_dir: str | Path, seconds: float = 0.0
) -> pd.DataFrame:
    """Copy MFA's TextGrids (validated, re-written MFA-shaped) into ``shard_dir/textgrids/`` and
    write ``shard_dir/report.tsv``; utterances without a TextGrid are 'failed'."""
    from speechneurons.align.textgrid import read_alignment_textgrid, write_alignment_textgrid

    output_dir = Path(output_dir)
    found = {p.stem: p for p in output_dir.rglob("*.TextGrid")}
    reasons = _unalignable_reasons(output_dir)
    per_utt = round(seconds / max(len(manifest), 1), 3)
    records = []
    with atomic_dir(shard_dir) as tmp:
        (tmp / "textgrids").mkdir()
        for utt in manifest.utt_id.astype(str):
            if utt in found:
                duration, words, phones = read_alignment_textgrid(found[utt])
                write_alignment_textgrid(tmp / "textgrids" / f"{utt}.TextGrid", duration, words, phones)
                records.append({"utt_id": utt, "status": "aligned", "attempts": 1, "seconds": per_utt, "reason": ""})
            else:
                why = reasons.get(utt, "")
                reason = "MFA wrote no TextGrid (not alignable even with the retry beam)" + (f": {why}" if why else "")
                records.append({"utt_id": utt, "status": "failed", "attempts": 2, "seconds": per_utt, "reason": reason})
        report = pd.DataFrame(records, columns=REPORT_COLUMNS)
        write_table(report, tmp / "report.tsv")
    return report
