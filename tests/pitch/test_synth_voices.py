"""F0 accuracy on synthesized speech of known target F0 (flite with a flat intonation target).

flite's ``int_f0_target_mean`` / ``int_f0_target_stddev=0`` flattens the F0 targets of the
diphone voice kal16 and the clustergen voices slt and awb (rms ignores them, so it is left
out). The median absolute error of the extracted F0 over voiced frames measures the whole
chain (Praat tracker + grid sampling) against an independent synthesizer.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from speechneurons.audio import load_audio
from speechneurons.frames import FrameGrid
from speechneurons.pitch.f0 import PitchSettings, extract_f0
from tests.helpers.config import default_settings

TEXT = "The quick brown fox jumps over the lazy dog while seven wise men argue about the weather."


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("flite") is None, reason="flite is not installed (envs/apt-packages.txt)")
@pytest.mark.parametrize("voice", ["kal16", "slt", "awb"])
@pytest.mark.parametrize("target", [100.0, 120.0, 200.0])
def test_flite_flat_target_f0(tmp_path, voice, target):
    wav = tmp_path / "x.wav"
    subprocess.run(
        [
            "flite",
            "-voice",
            voice,
            "--setf",
            f"int_f0_target_mean={target:g}",
            "--setf",
            "int_f0_target_stddev=0",
            "-t",
            TEXT,
            "-o",
            str(wav),
        ],
        check=True,
        capture_output=True,
    )
    x = load_audio(wav, 16000)
    f0, voiced = extract_f0(x, 16000, FrameGrid(), default_settings(PitchSettings, "pitch"))
    err = np.abs(f0[voiced] - target)
    print(f"{voice} target {target:g} Hz: voiced {voiced.mean():.2f}, median |error| {np.median(err):.2f} Hz")
    assert voiced.mean() > 0.5
    assert np.median(err) < 2.5
