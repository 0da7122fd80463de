"""What every generation backend shares: the request and output records, the backend protocol,
per-request seeds and the decoding settings as engines take them.

A leaf module: it imports no other module of the workflow, so the backends
(:mod:`~.vllm_backend`, :mod:`~.openai_backend`), the factory that builds them
(:mod:`~.backends`) and the record keeping (:mod:`~.generate`) all import it without importing
each other.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

DECODING_DEFAULTS = {"max_new_tokens": 256, "temperature": 0.0, "top_p": 1.0}


@dataclass(frozen=True)
class Request:
    """One sample to generate: a chat of an optional system message and one user turn, as sent
    (the model's :class:`~.generate.Prompting` already applied)."""

    id: str
    sample: int
    system_prompt: str
    prompt: str
    image_paths: tuple[str, ...] = ()

    def messages(self) -> list[dict]:
        """Chat messages in the Hugging Face multimodal format: images first, then the text."""
        content = [{"type": "image"} for _ in self.image_paths] + [{"type": "text", "text": self.prompt}]
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return system + [{"role": "user", "content": content}]


@dataclass(frozen=True)
class Output:
    """What a backend returns per request."""

    text: str  # decoded generation, special tokens removed
    prompt_tokens: int  # model input length, image tokens included
    generated_tokens: int  # new tokens, the end-of-sequence token included
    finished: bool  # ended on an end-of-sequence token (False: hit max_new_tokens)


class Backend(Protocol):
    """A generation engine: batched generation and token counting with the model's tokenizer.

    Optional attributes, read with ``getattr``, tell :func:`~.generate.generate_responses` how
    to feed it and what its samples depend on:

    ``preferred_chunk`` (int, or None for every sample of the job in one call): requests per
    :meth:`generate` call. An engine that batches continuously (vLLM) keeps the accelerator busy
    only when it is handed many more requests than it runs at once; a backend without the
    attribute (transformers, the API client) gets ``batch_size`` requests per call.

    ``seeds_per_request`` (bool): the backend seeds every request itself with
    :func:`request_seed` (run seed, id, sample), so it is handed the run's seed and its samples
    do not depend on how the requests were chunked. Without it, call ``b`` gets ``seed + b``.

    ``sample_settings()`` (dict): the backend's settings that change what a sample is (engine,
    served model, dtype, ...), part of the key resumed checkpoint rows are matched by; a backend
    without it is keyed by its class.

    ``image_root`` (path or None): where the requests' image paths are relative to.
    """

    def generate(self, batch: list[Request], seed: int) -> list[Output]: ...

    def count_tokens(self, text: str) -> int: ...


def request_seed(seed: int, request: Request) -> int:
    """A request's own sampling seed (0 .. 2**63-1) from the run's seed, its prompt id and its
    sample index only: the same whatever chunk, shard or resumed run the request lands in."""
    digest = hashlib.sha256(f"{seed}\x00{request.id}\x00{request.sample}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def effective_decoding(decoding: dict) -> dict:
    """Decoding settings with defaults filled in and ``do_sample`` derived (temperature 0: greedy)."""
    settings = {**DECODING_DEFAULTS, **decoding}
    settings["do_sample"] = float(settings["temperature"]) > 0
    return settings


def sampling_settings(decoding: dict, seed: int) -> dict:
    """Engine keywords for our decoding settings (temperature 0: greedy): vLLM's
    ``SamplingParams`` and the OpenAI chat-completions body take the same names."""
    settings = effective_decoding(decoding)
    params = {"max_tokens": int(settings["max_new_tokens"]), "seed": int(seed)}
    if settings["do_sample"]:
        params.update(temperature=float(settings["temperature"]), top_p=float(settings["top_p"]))
        if "top_k" in settings:
            params["top_k"] = int(settings["top_k"])
    else:
        params.update(temperature=0.0, top_p=1.0)
    if "repetition_penalty" in settings:
        params["repetition_penalty"] = float(settings["repetition_penalty"])
    return params
