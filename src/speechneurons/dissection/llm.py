"""Descriptions written by a local LLM behind an OpenAI-compatible HTTP endpoint.

Any server that speaks the OpenAI chat-completions protocol works: llama.cpp's ``llama-server``,
vLLM's ``vllm serve``, Ollama (``/v1``). Only the standard library is used (``urllib``). With
no ``base_url`` configured nothing is ever contacted.

Prompt: AND's summary prompt ("Here are descriptions of some audio clips. Please summarize these
descriptions by identifying their commonalities.", ``summaries/generate_summary.py`` of
Trustworthy-ML-Lab/Audio_Network_Dissection), adapted to speech: the item captions come from
the describer instead of an audio captioning model, and the items that excite the neuron least
are shown in the same prompt, so the calibration (what the top items share and the bottom
items lack) is asked for directly instead of AND's separate highly/lowly summaries.

Every answer is cached on disk, one JSON file per request, under
``<cache_dir>/<key[:2]>/<key>.json`` with key = sha256 of the canonical JSON of (messages,
model, seed, temperature); the file records the request (base URL, model, seed, temperature,
max_tokens), the answer and when it was made. A rerun with the same prompt and settings asks
nothing twice.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from speechneurons.dissection.settings import LLMSettings
from speechneurons.io import read_json, write_json

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "Here are descriptions of some speech segments. Please summarize these descriptions by identifying their "
    "commonalities."
)
_KIND_WORDS = {"phone": "phone segments", "utterance": "utterances"}


class LLMEndpointError(RuntimeError):
    """The configured LLM endpoint cannot be used; the message names the URL and what to do."""


def build_messages(layer: int, neuron: int, kind: str, top: Sequence[str], bottom: Sequence[str]) -> list[dict]:
    """The chat messages asking for one neuron's description from its items' captions."""
    what = _KIND_WORDS.get(kind, "items")
    lines = [
        f"Neuron {neuron} of layer {layer} of a self-supervised speech model.",
        f"The {len(top)} {what} that activate it most:",
    ]
    lines += [f"{i}. {c}" for i, c in enumerate(top, 1)]
    lines.append(f"The {len(bottom)} {what} that activate it least:")
    lines += [f"{i}. {c}" for i, c in enumerate(bottom, 1)]
    lines.append(
        "Summarize what the first group has in common that the second group lacks (phones, words, speaker, "
        "pitch, loudness, duration, spectrum). Answer with one short sentence of the form "
        "'fires on ...; silent on ...'. If the first group shares nothing, answer 'uninterpretable'."
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "\n".join(lines)}]


def cache_key(messages: list[dict], model: str, seed: int, temperature: float) -> str:
    """sha256 hex digest of the canonical JSON of (messages, model, seed, temperature)."""
    blob = json.dumps(
        {"messages": messages, "model": model, "seed": int(seed), "temperature": float(temperature)},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class LLMWriter:
    """Asks the endpoint of ``settings`` for descriptions, through an on-disk cache."""

    def __init__(self, settings: LLMSettings, cache_dir: str | Path):
        if not settings.base_url:
            raise LLMEndpointError(
                "dissection.writer is 'llm' but dissection.llm.base_url is empty: set it to an OpenAI-compatible "
                "server (e.g. http://127.0.0.1:8080/v1 for llama-server) and dissection.llm.model, or set "
                "dissection.writer: template"
            )
        if not settings.model:
            raise LLMEndpointError(
                f"dissection.llm.model is empty: set the model name that {settings.base_url} "
                f"serves (GET {settings.base_url.rstrip('/')}/models lists them)"
            )
        self.settings = settings
        self.cache_dir = Path(cache_dir)
        self.asked = 0
        self.cached = 0

    @property
    def url(self) -> str:
        return self.settings.base_url.rstrip("/") + "/chat/completions"

    def cache_path(self, key: str) -> Path:
        return self.cache_dir / key[:2] / f"{key}.json"

    def complete(self, messages: list[dict]) -> str:
        """The answer to ``messages``: from the cache, else from the endpoint (then cached)."""
        s = self.settings
        key = cache_key(messages, s.model, s.seed, s.temperature)
        path = self.cache_path(key)
        if path.exists():
            self.cached += 1
            return read_json(path)["answer"]
        answer = self._post(messages)
        self.asked += 1
        write_json(
            path,
            {
                "key": key,
                "base_url": s.base_url,
                "model": s.model,
                "seed": s.seed,
                "temperature": s.temperature,
                "max_tokens": s.max_tokens,
                "messages": messages,
                "answer": answer,
                "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            },
        )
        return answer

    def _post(self, messages: list[dict]) -> str:
        s = self.settings
        body = json.dumps(
            {
                "model": s.model,
                "messages": messages,
                "temperature": s.temperature,
                "seed": s.seed,
                "max_tokens": s.max_tokens,
                "stream": False,
            }
        ).encode("utf-8")
        request = urllib.request.Request(
            self.url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=s.timeout_s) as response:
                reply = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:300]
            raise LLMEndpointError(
                f"the LLM endpoint {self.url} answered HTTP {exc.code} ({detail}). Check that it serves model "
                f"{s.model!r} (GET {s.base_url.rstrip('/')}/models) and speaks the OpenAI chat-completions API"
            ) from exc
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise LLMEndpointError(
                f"cannot reach the LLM endpoint {self.url} ({reason}). Start an OpenAI-compatible server there "
                "(llama-server -m model.gguf --port 8080, vllm serve <model>, or ollama serve), fix "
                "dissection.llm.base_url, raise dissection.llm.timeout_s, or set dissection.writer: template"
            ) from exc
        except json.JSONDecodeError as exc:
            raise LLMEndpointError(f"the LLM endpoint {self.url} did not answer JSON ({exc})") from exc
        try:
            return clean_answer(reply["choices"][0]["message"]["content"])
        except (KeyError, IndexError, TypeError) as exc:
            raise LLMEndpointError(
                f"the LLM endpoint {self.url} answered without choices[0].message.content: {str(reply)[:300]}"
            ) from exc


def clean_answer(text: str) -> str:
    """The first non-empty line of an answer, without surrounding quotes."""
    for line in str(text).strip().splitlines():
        line = line.strip().strip("\"'").strip()
        if line:
            return line
    return ""


def llm_descriptions(
    writer: LLMWriter,
    layer: int,
    kind: str,
    captions: Sequence[str],
    top: Sequence[Sequence[int]],
    bottom: Sequence[Sequence[int]],
) -> list[str]:
    """One LLM description per neuron; ``top``/``bottom`` are [D, K] item indices into ``captions``."""
    from tqdm import tqdm

    out = []
    for j in tqdm(range(len(top)), desc=f"LLM layer {layer}", unit="neuron", disable=None):
        messages = build_messages(layer, j, kind, [captions[i] for i in top[j]], [captions[i] for i in bottom[j]])
        out.append(writer.complete(messages))
    log.info("LLM layer %s: %d answers asked, %d from the cache", layer, writer.asked, writer.cached)
    return out
