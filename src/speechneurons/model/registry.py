"""The model registry: self-supervised speech transformers loaded offline.

:func:`load_model` takes a Hugging Face id (from the local cache only, never downloaded while
loading) or a local ``save_pretrained`` folder and returns a :class:`LoadedModel` for HuBERT, wav2vec 2.0,
WavLM or data2vec-audio: the transformers ``*Model`` in eval mode with layer drop and
SpecAugment masking off, its frame grid from the config's conv stack, its layer count, its FFN
widths and whether its input is normalised per utterance (x <- (x - mean) / sqrt(var + 1e-7),
as the feature extractor's ``do_normalize``).

With ``model.download: true`` a Hugging Face id that is not in the cache is fetched into the
normal Hugging Face cache first, in a job of its own (:func:`download_model`); the layer count the
workflow needs to plan its jobs is read from the config file alone (:func:`num_layers_of`).

Structurally pruned models (see :func:`speechneurons.ffn.prune_ffn_`) carry per-layer FFN
widths in ``config.ffn_widths``; they are rebuilt at those widths before their safetensors
weights are loaded.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from speechneurons.errors import BadInputError
from speechneurons.frames import FrameGrid

log = logging.getLogger(__name__)

#: model_type of the transformers config -> name of the base-model class (in transformers, or in
#: speechneurons.model.melhubert for the workflow's own log-Mel HuBERT).
ARCHITECTURES = {
    "hubert": "HubertModel",
    "wav2vec2": "Wav2Vec2Model",
    "wavlm": "WavLMModel",
    "data2vec-audio": "Data2VecAudioModel",
    "melhubert": "MelHubertModel",
}


class ModelNotAvailableError(BadInputError):
    """A model id is neither a local folder nor in the local Hugging Face cache."""


@dataclass
class LoadedModel:
    """A loaded model and the facts the workflow needs about it."""

    model: object  # a transformers PreTrainedModel (torch.nn.Module)
    ref: str
    model_type: str
    grid: FrameGrid
    num_layers: int
    ffn_widths: list[int]
    do_normalize: bool
    device: object = None
    extra: dict = field(default_factory=dict)

    @property
    def ffn_width(self) -> int:
        """The FFN width D (the largest one when layers were pruned to different widths)."""
        return max(self.ffn_widths)

    def num_frames(self, num_samples: int) -> int:
        """Frames the conv stack gives for ``num_samples`` samples."""
        return self.grid.num_frames(num_samples)

    def prepare_batch(self, waves: Sequence[np.ndarray]):
        """Normalise (if the model expects it) and right-pad a list of 1-D waves.

        Returns ``(input_values [B, T] float32, attention_mask [B, T] long)`` on the model's
        device; padding is 0 and masked out.
        """
        import torch

        lengths = [len(w) for w in waves]
        batch = np.zeros((len(waves), max(lengths)), dtype=np.float32)
        mask = np.zeros((len(waves), max(lengths)), dtype=np.int64)
        for i, w in enumerate(waves):
            w = np.asarray(w, dtype=np.float32)
            if self.do_normalize:
                w = normalize_wave(w)
            batch[i, : len(w)] = w
            mask[i, : len(w)] = 1
        return torch.from_numpy(batch).to(self.device), torch.from_numpy(mask).to(self.device)


def normalize_wave(wave: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance: (x - mean) / sqrt(var + 1e-7) (Wav2Vec2FeatureExtractor)."""
    wave = np.asarray(wave, dtype=np.float32)
    return ((wave - wave.mean()) / np.sqrt(wave.var() + 1e-7)).astype(np.float32)


def _not_available(ref: str, exc: Exception | None = None) -> ModelNotAvailableError:
    return ModelNotAvailableError(
        ref,
        "model is neither a local folder nor in the local Hugging Face cache"
        + (f" ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})" if exc else "")
        + "; nothing is downloaded at run time (model.download: false)",
        "With internet here, set model.download: true (docs/own-data.md). Otherwise, "
        f"on a machine with internet run `huggingface-cli download {ref}` and copy its cache folder "
        "(~/.cache/huggingface/hub, or $HF_HOME/hub) to this machine; or there run "
        f"`AutoModel.from_pretrained('{ref}').save_pretrained('DIR')` (and the feature extractor), "
        "copy DIR here and set model.path: DIR in the config",
    )


def _is_local(ref: str) -> bool:
    return Path(ref).expanduser().is_dir()


def load_config(ref: str):
    """The transformers config of ``ref`` (local folder or cached id), offline."""
    from transformers import AutoConfig

    from speechneurons.model import melhubert  # noqa: F401 (registers model_type 'melhubert' with AutoConfig)

    if not _is_local(ref) and (ref.startswith((".", "/", "~")) or not ref):
        raise _not_available(ref or "<empty model.path>")
    try:
        return AutoConfig.from_pretrained(str(Path(ref).expanduser()) if _is_local(ref) else ref, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise _not_available(ref, exc) from exc


def num_layers_of(ref: str, download: bool = False) -> int:
    """Number of transformer layers of a model, read from its config only (no weights).

    ``download``: a Hugging Face id whose config is not in the local cache has its
    ``config.json`` (a few kB) fetched into the cache first; the weights come later
    (:func:`download_model`)."""
    try:
        return int(load_config(ref).num_hidden_layers)
    except ModelNotAvailableError:
        if not download or not is_hub_id(ref):
            raise
    from huggingface_hub import hf_hub_download

    try:
        hf_hub_download(ref, "config.json")
    except Exception as exc:
        raise _download_failed(ref, exc) from exc
    return int(load_config(ref).num_hidden_layers)


#: Files of other frameworks that a Hugging Face repository may hold besides the PyTorch weights.
IGNORED_DOWNLOADS = ["*.h5", "*.msgpack", "*.onnx", "*.ot", "*.tflite", "*.mlmodel", "flax_model*", "tf_model*"]


def is_hub_id(ref: str) -> bool:
    """Whether ``ref`` reads as a Hugging Face id (``org/name`` or ``name``), not a path."""
    return bool(ref) and not _is_local(ref) and not ref.startswith((".", "/", "~")) and ref.count("/") <= 1


def _download_failed(ref: str, exc: Exception) -> ModelNotAvailableError:
    return ModelNotAvailableError(
        ref,
        f"model.download is true but the model cannot be fetched from the Hugging Face Hub "
        f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})",
        "Check the id and the connection (unset HF_HUB_OFFLINE; HF_TOKEN for a gated model; HF_ENDPOINT for "
        f"a mirror), or download it by hand (`huggingface-cli download {ref}`) and set model.download: false",
    )


def is_available(ref: str) -> bool:
    """Whether ``ref`` is a local folder or a Hugging Face id whose config is in the local cache."""
    try:
        load_config(ref)
    except ModelNotAvailableError:
        return False
    return True


def cached_snapshot(ref: str) -> Path | None:
    """The cached snapshot folder of a Hugging Face id when its config and weights are in the
    local cache (nothing is fetched), else None."""
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(repo_id=ref, local_files_only=True))
    except Exception:
        return None
    has_weights = any(folder.glob("*.safetensors")) or any(folder.glob("pytorch_model*.bin"))
    return folder if has_weights and (folder / "config.json").exists() else None


def download_model(ref: str) -> Path:
    """Fetch a Hugging Face model into the local Hugging Face cache
    (``huggingface_hub.snapshot_download``; the PyTorch weights, not those of other frameworks)
    and check that it loads from there offline. Returns the snapshot folder. A local folder, or
    a model whose config and weights are cached already, is returned without going online."""
    if _is_local(ref):
        return Path(ref).expanduser()
    if not is_hub_id(ref):
        raise _not_available(ref)
    cached = cached_snapshot(ref)
    if cached is not None:
        log.info("%s is in the cache already: %s", ref, cached)
        return cached
    from huggingface_hub import snapshot_download

    log.info("downloading %s into the Hugging Face cache", ref)
    try:
        folder = Path(snapshot_download(repo_id=ref, ignore_patterns=IGNORED_DOWNLOADS))
    except Exception as exc:
        raise _download_failed(ref, exc) from exc
    load_config(ref)  # from the cache now, offline
    log.info("%s is in the cache: %s", ref, folder)
    return folder


def _feature_extractor_settings(ref: str, config) -> tuple[bool, int]:
    """(do_normalize, sampling_rate) from the model's preprocessor_config.json.

    Without one, follow transformers' convention: models with a layer-normalised conv stack
    (``feat_extract_norm == 'layer'``) expect normalised input, group-norm ones raw input.
    """
    data = None
    if _is_local(ref):
        file = Path(ref).expanduser() / "preprocessor_config.json"
        if file.exists():
            data = json.loads(file.read_text())
    else:
        try:
            from transformers.utils import cached_file

            file = cached_file(ref, "preprocessor_config.json", local_files_only=True)
            if file:
                data = json.loads(Path(file).read_text())
        except (OSError, ValueError):
            data = None
    if data is None:
        do_norm = getattr(config, "feat_extract_norm", "group") == "layer"
        log.info("%s: no preprocessor_config.json; do_normalize=%s from feat_extract_norm", ref, do_norm)
        return do_norm, 16000
    return bool(data.get("do_normalize", True)), int(data.get("sampling_rate", 16000))


def model_class(model_type: str, ref: str = "<model>"):
    """The base-model class of a model_type of :data:`ARCHITECTURES` (BadInputError naming ``ref`` otherwise)."""
    import transformers

    from speechneurons.model import melhubert

    if model_type not in ARCHITECTURES:
        raise BadInputError(
            ref,
            f"model type {model_type!r} is not supported",
            f"Use one of {', '.join(ARCHITECTURES)} (HuBERT, wav2vec 2.0, WavLM, data2vec-audio, log-Mel HuBERT)",
        )
    name = ARCHITECTURES[model_type]
    return getattr(melhubert, name, None) or getattr(transformers, name)


def _weights_files(folder: Path) -> list[Path]:
    single = folder / "model.safetensors"
    if single.exists():
        return [single]
    index = folder / "model.safetensors.index.json"
    if index.exists():
        names = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return [folder / n for n in names]
    raise BadInputError(
        folder, "no model.safetensors in the model folder", "Save the model with save_pretrained (safetensors)"
    )


def _load_resized(cls, config, ref: str):
    """Build a model at ``config.ffn_widths`` and load its safetensors weights (strict)."""
    from safetensors.torch import load_file

    from speechneurons.model.ffn import resize_ffn_

    folder = Path(ref).expanduser()
    if not folder.is_dir():
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(ref, local_files_only=True))
    model = cls(config)
    resize_ffn_(model, list(config.ffn_widths))
    state = {}
    for file in _weights_files(folder):
        state.update(load_file(str(file)))
    prefix = f"{cls.base_model_prefix}."
    state = {k[len(prefix) :] if k.startswith(prefix) else k: v for k, v in state.items()}
    model.load_state_dict(state, strict=True)
    return model


def load_model(ref: str, device: str = "auto", random_weights: bool = False, seed: int = 0) -> LoadedModel:
    """Load a speech SSL model offline, in eval mode, ready for the FFN hooks.

    ``ref`` is a local ``save_pretrained`` folder or a Hugging Face id in the local cache.
    Layer drop is set to 0 and SpecAugment masking off; weights are float32.
    ``random_weights``: the same architecture with freshly initialised weights (seeded; the
    weights of ``ref`` are not read) -- the control of what an untrained network shows.
    Raises ModelNotAvailableError (saying how to get it here) when it cannot be found.
    """
    import torch

    from speechneurons.device import resolve_device
    from speechneurons.model.ffn import ffn_sites

    ref = str(ref)
    config = load_config(ref)
    model_type = config.model_type
    cls = model_class(model_type, ref)
    config.layerdrop = 0.0
    config.apply_spec_augment = False
    path = str(Path(ref).expanduser()) if _is_local(ref) else ref
    widths = getattr(config, "ffn_widths", None)
    if random_weights:
        from speechneurons.model.ffn import resize_ffn_

        torch.manual_seed(seed)
        model = cls(config)
        if widths is not None:
            resize_ffn_(model, list(widths))
    elif widths is not None and len(set(widths) | {config.intermediate_size}) > 1:
        model = _load_resized(cls, config, path)
    else:
        try:
            model = cls.from_pretrained(path, config=config, local_files_only=True, dtype=torch.float32)
        except OSError as exc:
            raise _not_available(ref, exc) from exc
    dev = resolve_device(device)
    model = model.to(dev).eval()
    do_norm, sr = _feature_extractor_settings(ref, config)
    grid = FrameGrid(tuple(int(k) for k in config.conv_kernel), tuple(int(s) for s in config.conv_stride), sr)
    sites = ffn_sites(model)
    return LoadedModel(
        model=model,
        ref=ref,
        model_type=model_type,
        grid=grid,
        num_layers=len(sites),
        ffn_widths=[s.width for s in sites],
        do_normalize=do_norm,
        device=dev,
    )


def check_frame_grid(loaded: LoadedModel, grid: FrameGrid) -> None:
    """Raise BadInputError when the model puts its frames elsewhere than ``grid`` (the config's
    ``frames`` section, which the labels and pitch were computed on): another receptive field,
    hop or sample rate (:meth:`FrameGrid.same_frames_as`)."""
    if not loaded.grid.same_frames_as(grid):

        def describe(g: FrameGrid) -> str:
            return (
                f"kernel {list(g.conv_kernel)}, stride {list(g.conv_stride)}: receptive field "
                f"{g.receptive_field}, hop {g.hop}, {g.sample_rate} Hz"
            )

        raise BadInputError(
            loaded.ref,
            f"the model's conv stack ({describe(loaded.grid)}) gives another frame grid "
            f"than the config's frames section ({describe(grid)})",
            "Set frames.conv_kernel / frames.conv_stride / frames.sample_rate in the config to the "
            "model's values (then the labels and pitch are recomputed on that grid)",
        )
