"""Features of the experiments' model variants (experiments_features_variants): CPU seconds of
:func:`speechneurons.probing.features.extract_features` for the default's 29 variants (pruned
and erased models that silence FFN neurons of one model) against one variant, and a profile of
where the time goes.

A random HuBERT of the embedded default's size (6 layers, hidden 384, FFN 1536) on synthetic
audio (noise, 2-5 s per utterance), probed at layers 3 and 6; the variants silence random
sets: half of them 50 % of every layer's neurons (pruning), half 5 % (erasures).

Measured (2 shared cores, one torch thread, --quick: 16 utterances): 29 variants 32.1 CPU-s
before the passes over a batch shared the projection and positional embedding, 29.6 after
(-8 %; 1 variant 3.1-4.2 CPU-s). Variants that change only upper layers (the SAEs' splices and
erasures, dissection's per-layer sets) also reuse the unchanged model's lower layers.

Flags: ``--quick`` (fewer utterances), ``--profile`` (cProfile's top functions).
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.bench_activations import make_corpus, make_model  # noqa: E402

N_VARIANTS = 29
LAYERS = (3, 6)


def variants(widths: list[int], seed: int = 0):
    from speechneurons.probing.features import Variant

    rng = np.random.default_rng(seed)
    out = []
    for v in range(N_VARIANTS):
        share = 0.5 if v % 2 == 0 else 0.05
        masks = {
            layer: sorted(rng.choice(d, int(share * d), replace=False).tolist()) for layer, d in enumerate(widths, 1)
        }
        out.append(Variant(f"v{v}", masks))
    return out


def main(flags: list[str]) -> None:
    import torch

    from speechneurons.model.registry import load_model
    from speechneurons.probing.features import extract_features

    torch.set_num_threads(1)
    n_utts = 16 if "--quick" in flags else 48
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_model(tmp / "model")
        manifest, labels = make_corpus(tmp, n_utts, seconds=(2.0, 5.0))
        manifest["split"] = np.where(np.arange(len(manifest)) % 4 == 0, "test", "train")
        frames = labels[labels["is_mid"]].iloc[::4][["utt_id", "frame"]].reset_index(drop=True)
        loaded = load_model(str(tmp / "model"), device="cpu")
        vs = variants(loaded.ffn_widths)
        runs = {}
        for name, vlist in (("1 variant", vs[:1]), (f"{N_VARIANTS} variants", vs)):
            c0, w0 = time.process_time(), time.perf_counter()
            if "--profile" in flags and len(vlist) > 1:
                prof = cProfile.Profile()
                prof.enable()
            extract_features(loaded, manifest, frames, LAYERS, vlist, progress=False)
            if "--profile" in flags and len(vlist) > 1:
                prof.disable()
                pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
            runs[name] = (time.process_time() - c0, time.perf_counter() - w0)
        for name, (cpu, wall) in runs.items():
            print(f"{name}: {cpu:.1f} CPU-s, {wall:.1f} wall-s ({n_utts} utterances)")
        per = (runs[f"{N_VARIANTS} variants"][0] - runs["1 variant"][0]) / (N_VARIANTS - 1)
        print(f"per extra variant: {per:.2f} CPU-s; first variant incl. front-end {runs['1 variant'][0]:.1f} CPU-s")


if __name__ == "__main__":
    main(sys.argv[1:])
