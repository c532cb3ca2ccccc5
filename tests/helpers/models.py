"""Test builders of the model stage: small transformers configs with random weights."""

from __future__ import annotations

from collections.abc import Sequence


def tiny_config(
    model_type: str = "hubert",
    *,
    layers: int = 2,
    hidden: int = 32,
    ffn: int = 64,
    conv_dim: int | Sequence[int] = 32,
    feat_extract_norm: str = "group",
    **kwargs,
):
    """A small transformers config of an architecture with the base conv stack (20 ms frames),
    for tests and benchmarks (random weights; the real models are loaded with load_model)."""
    import transformers

    from speechneurons.model import melhubert

    names = {
        "hubert": "HubertConfig",
        "wav2vec2": "Wav2Vec2Config",
        "wavlm": "WavLMConfig",
        "data2vec-audio": "Data2VecAudioConfig",
        "melhubert": "MelHubertConfig",
    }
    cls = getattr(melhubert, names[model_type], None) or getattr(transformers, names[model_type])
    args = dict(
        num_hidden_layers=layers,
        hidden_size=hidden,
        intermediate_size=ffn,
        num_attention_heads=2,
        conv_dim=tuple(conv_dim) if not isinstance(conv_dim, int) else (conv_dim,) * 7,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        feat_extract_norm=feat_extract_norm,
    )
    if model_type == "data2vec-audio":
        args.pop("feat_extract_norm")
        args["num_conv_pos_embeddings"] = 5
        args["conv_pos_kernel_size"] = 5
    if model_type == "melhubert":  # a log-Mel front-end (n_mels = conv_dim) instead of the conv stack
        args.pop("feat_extract_norm")
        args["n_mels"] = conv_dim if isinstance(conv_dim, int) else conv_dim[-1]
        del args["conv_dim"]
    if model_type == "wavlm":
        args["num_buckets"] = 16
        args["max_bucket_distance"] = 50
    args.update(kwargs)
    return cls(**args)
