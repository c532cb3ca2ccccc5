"""Base-size speech transformers with random weights, saved locally for the scale study
(configs/scale-*.yaml): HuBERT base and wav2vec 2.0 base, built from transformers' config
classes with their default (base) sizes -- 12 layers x 3,072 FFN neurons, hidden 768, about
95 M parameters -- and seeded initial weights. Nothing is downloaded.

    python -m bench.scale_models [--out data/scale-models] [--tiny]

``--throughput``: audio seconds per CPU-second of the conv front-end, the transformer and a full
pass of each saved model (one torch thread, 8 noise utterances of 2-6 s, batches of 60 s with
the exact mask), the figure docs/scaling.md projects from.

``--tiny`` writes the same architectures at 2 layers x 64 FFN neurons (for testing the
scale workflow and the GPU script quickly on a CPU). The cost of a forward pass does not
depend on the values of the weights, so the random weights measure what trained ones cost.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

FAMILIES = ("hubert-base", "wav2vec2-base")
TINY = dict(
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    conv_dim=(32,) * 7,
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=4,
)


def build(family: str, tiny: bool = False, seed: int = 0):
    """The model of ``family`` (one of FAMILIES) with seeded random weights, in eval mode."""
    import torch
    from transformers import HubertConfig, HubertModel, Wav2Vec2Config, Wav2Vec2Model

    classes = {"hubert-base": (HubertConfig, HubertModel), "wav2vec2-base": (Wav2Vec2Config, Wav2Vec2Model)}
    if family not in classes:
        raise ValueError(f"unknown family {family!r}: one of {FAMILIES}")
    config_cls, model_cls = classes[family]
    config = config_cls(**(TINY if tiny else {}))
    torch.manual_seed(seed)
    return model_cls(config).eval()


def save(family: str, out: Path, tiny: bool = False, seed: int = 0) -> Path:
    """Write ``out/<family>[-tiny]`` (save_pretrained folder with a preprocessor_config.json):
    the folder a config's model.path names. An existing folder is kept."""
    from transformers import Wav2Vec2FeatureExtractor

    folder = out / (family + ("-tiny" if tiny else ""))
    if (folder / "config.json").exists():
        return folder
    model = build(family, tiny, seed)
    tmp = folder.with_name(folder.name + ".tmp")
    model.save_pretrained(tmp)
    # HuBERT base and wav2vec 2.0 base (group-norm conv stack) take raw, unnormalised audio
    Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=False).save_pretrained(tmp)
    tmp.rename(folder)
    return folder


def throughput(folder: Path) -> dict:
    """Audio-s per CPU-s of one model folder: front-end, transformer, full pass (one thread)."""
    import time

    import numpy as np
    import torch

    from speechneurons.model.forward import encode, front_end_batches
    from speechneurons.model.registry import load_model

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    waves = [(0.1 * rng.standard_normal(int(s * 16000))).astype(np.float32) for s in rng.uniform(2, 6, 8)]
    audio = sum(len(w) for w in waves) / 16000
    loaded = load_model(str(folder), device="cpu")
    with torch.inference_mode():
        c0 = time.process_time()
        batches = list(front_end_batches(loaded, waves, 3000, 1.5))
        c1 = time.process_time()
        for batch in batches:
            encode(loaded, batch)
        c2 = time.process_time()
    return {"audio_s": round(audio, 1), "front_end": audio / (c1 - c0), "transformer": audio / (c2 - c1),
            "full_pass": audio / (c2 - c0)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="data/scale-models")
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--family", action="append", choices=FAMILIES)
    ap.add_argument("--throughput", action="store_true", help="measure audio-s per CPU-s of each model")
    args = ap.parse_args(argv)
    for family in args.family or FAMILIES:
        folder = save(family, Path(args.out), args.tiny)
        print(folder)
        if args.throughput:
            t = throughput(folder)
            print(f"  {t['audio_s']} s of audio: front-end {t['front_end']:.1f}, transformer {t['transformer']:.1f}, "
                  f"full pass {t['full_pass']:.2f} audio-s per CPU-s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
