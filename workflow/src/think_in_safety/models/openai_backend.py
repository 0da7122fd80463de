"""The API backend: a model served behind an OpenAI-compatible chat-completions endpoint (vLLM or
SGLang ``serve``, ``transformers serve``, a hosted API) behind the same :class:`~.generate.Backend`
protocol as local weights, so sample expansion, seeding, thought splitting, checkpoint shards and
resuming are those of :func:`~.generate.generate_responses`.

Registry: ``models.<m>.backend: openai`` with ``base_url``, ``model`` (the served model id),
``api_key_env``, ``max_concurrency``, ``timeout_s`` (config/README.md). Such a model has no
weights to download (``weights: api``) and its jobs run in ``envs/data.yaml`` (no torch).

Requests. One ``POST {base_url}/chat/completions`` per sample, at most ``max_concurrency`` in
flight within a batch, with the chat of :meth:`~.generate.Request.messages`: the system prompt
(when there is one) and one user turn whose images come first as ``image_url`` parts holding
``data:`` URLs (read from ``image_root``, default the working directory), then the text.
Decoding: ``max_tokens`` (max_new_tokens), ``temperature`` and ``top_p`` (greedy: 0 and 1),
``top_k``/``repetition_penalty`` only where configured, and a ``seed`` per request derived from the
batch seed, the prompt id and the sample index (:func:`request_seed`), so that the samples of one
prompt differ and a resumed run asks for exactly the same draws. Transport, retries (429 with
Retry-After, 5xx, timeouts, truncated or malformed bodies), backoff and fault counts are those of
:class:`think_in_safety.http_client.ChatClient`, shared with the endpoint judge. A request that
still fails fails the batch (:class:`GenerationRequestError`): earlier batches stay in the
checkpoint, so the rerun resumes there.

Reasoning. Servers with a reasoning parser (vLLM ``--reasoning-parser``, SGLang, DeepSeek's API)
return the thought apart from the answer, as ``message.reasoning_content`` (or
``message.reasoning``). :func:`join_reasoning` writes it back into the text in the model's
``thought_format``, so the ``raw`` column holds what the model generated and
:func:`~.thought.split_thought` finds the same thought and answer as for local weights:

* ``think_tags``: ``<think>\\nTHOUGHT\\n</think>\\n\\nANSWER``; a generation cut off while still
  reasoning (finish_reason ``length``, no answer) is written without ``</think>``, so its answer
  is ``""`` as for local weights;
* ``llava_cot_stages``: ``<REASONING>THOUGHT</REASONING>`` before the answer, which is wrapped in
  ``<CONCLUSION>`` unless it already carries stage tags (cut off while reasoning: no
  ``</REASONING>``, no conclusion);
* ``none``: a separate reasoning field is an error (the thought would be lost, or judged as the
  answer): give the model a thought format.

Token counts. ``prompt_tokens`` and ``generated_tokens`` are the server's ``usage.prompt_tokens``
and ``usage.completion_tokens`` (the served model's tokenizer, images and reasoning included);
``finished`` is False when ``finish_reason`` is ``length``. The model's tokenizer is not local,
so :meth:`OpenAIBackend.count_tokens` — the responses' ``thought_tokens`` and ``answer_tokens`` —
is an APPROXIMATION: whitespace-separated words, typically fewer than the model's subword tokens
(roughly 0.75 words per token for English text). Compare thought lengths of API models with each
other, not with local models' token counts. Without ``usage`` in a reply the same approximation
stands in for the prompt and completion counts.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from think_in_safety.http_client import (
    USER_AGENT,
    ChatClient,
    api_key_from_env,
    content_text,
    first_message,
    image_data_url,
)
from think_in_safety.models.protocol import Output, Request, sampling_settings
from think_in_safety.models.thought import thought_format_of

log = logging.getLogger(__name__)

#: Message fields in which servers return the reasoning apart from the answer, in order of preference.
REASONING_FIELDS = ("reasoning_content", "reasoning")


class GenerationRequestError(RuntimeError):
    """Requests of a batch failed after their retries (or cannot succeed as they are)."""


@dataclass(frozen=True)
class Reply:
    """The parts of one chat-completions reply the backend uses."""

    content: str
    reasoning: str
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None


def parse_reply(body: object) -> Reply:
    """A chat-completions body as a :class:`Reply`; ValueError when it has no ``choices[0].message``."""
    message = first_message(body)
    choice = body["choices"][0]  # type: ignore[index]  (first_message checked the shape)
    reasoning = next((message[key] for key in REASONING_FIELDS if message.get(key)), "")
    usage = body.get("usage") if isinstance(body, dict) else None  # type: ignore[union-attr]
    usage = usage if isinstance(usage, dict) else {}

    def count(key: str) -> int | None:
        value = usage.get(key)
        return int(value) if isinstance(value, (int, float)) else None

    return Reply(
        content=content_text(message.get("content")),
        reasoning=content_text(reasoning),
        finish_reason=choice.get("finish_reason") if isinstance(choice, dict) else None,
        prompt_tokens=count("prompt_tokens"),
        completion_tokens=count("completion_tokens"),
    )


def join_reasoning(reasoning: str, content: str, thought_format: str, finished: bool = True) -> str:
    """The generation as one text in ``thought_format`` (module docstring): ``content`` alone when
    there is no reasoning. ValueError for a reasoning field with format ``none``. Every format
    writes it its own way (:meth:`~.thought.MarkedFormat.join`; a preset name or inline markers)."""
    fmt = thought_format_of(thought_format)
    reasoning = reasoning.strip()
    if not reasoning:
        return content
    if fmt.holds_thought:
        return fmt.join(reasoning, content, finished)
    raise ValueError(
        "the server returned the model's reasoning in a separate field, but the model's thought_format is "
        "'none', so the thought would be lost or judged as the answer; set models.<m>.thought_format to "
        "think_tags (or llava_cot_stages) for this model"
    )


def request_seed(seed: int, request: Request) -> int:
    """A per-request sampling seed (0 .. 2**31-1): the batch seed, prompt id and sample index."""
    digest = hashlib.sha256(f"{seed}\x00{request.id}\x00{request.sample}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def whitespace_tokens(text: str) -> int:
    """Whitespace-separated words: the documented stand-in for a tokenizer that is not local."""
    return len(text.split()) if text else 0


@dataclass
class OpenAIBackend:
    """A served model on an OpenAI-compatible endpoint (module docstring).

    ``model`` is the id the server serves (``GET {base_url}/models`` lists them), ``model_name``
    the registry name (for messages). The API key is read from ``api_key_env`` when the backend
    is built, so a missing key fails before the first request; None sends no key.
    """

    base_url: str
    model: str
    decoding: dict
    thought_format: str = "none"
    api_key_env: str | None = "OPENAI_API_KEY"
    max_concurrency: int = 8
    timeout_s: float = 600.0
    max_retries: int = 6
    backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    image_root: Path | None = None
    model_name: str = ""
    sleep: Callable[[float], None] = time.sleep
    requests: int = field(default=0, init=False)
    faults: Counter = field(default_factory=Counter, init=False)

    def __post_init__(self) -> None:
        name = self.model_name or self.model
        if int(self.max_concurrency) < 1:
            raise ValueError(f"model {name!r}: max_concurrency must be at least 1, not {self.max_concurrency!r}")
        try:
            thought_format_of(self.thought_format)
        except ValueError as error:
            raise ValueError(f"model {name!r}: thought_format: {error}") from None
        key = api_key_from_env(
            self.api_key_env,
            f"model {name!r} (backend openai, {self.base_url})",
            f"set models.{name}.api_key_env: null for a server that needs no key",
        )
        self.client = ChatClient(self.base_url, api_key=key, timeout_s=self.timeout_s, max_retries=self.max_retries,
                                 backoff_s=self.backoff_s, max_backoff_s=self.max_backoff_s,
                                 user_agent=f"{USER_AGENT} (generation)", sleep=self.sleep)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------ requests

    def messages(self, request: Request) -> list[dict]:
        """:meth:`Request.messages` in chat-completions form, images as ``data:`` URLs."""
        root = self.image_root or Path(".")
        if request.image_paths:
            images = [{"type": "image_url", "image_url": {"url": image_data_url(root / path)}}
                      for path in request.image_paths]
            user = {"role": "user", "content": [*images, {"type": "text", "text": request.prompt}]}
        else:
            user = {"role": "user", "content": request.prompt}
        system = [{"role": "system", "content": request.system_prompt}] if request.system_prompt else []
        return [*system, user]

    def payload(self, request: Request, seed: int) -> dict:
        """The request body: model, messages and the decoding settings (module docstring)."""
        # the same decoding keys as vLLM's SamplingParams (max_tokens, temperature, top_p, ...)
        return {"model": self.model, "messages": self.messages(request),
                **sampling_settings(self.decoding, request_seed(seed, request))}

    def _output(self, request: Request, reply: Reply) -> Output:
        finished = reply.finish_reason != "length"
        text = join_reasoning(reply.reasoning, reply.content, self.thought_format, finished)
        prompt = reply.prompt_tokens
        if prompt is None:  # no usage: the approximation, images not counted
            prompt = whitespace_tokens(request.system_prompt) + whitespace_tokens(request.prompt)
        completion = reply.completion_tokens
        if completion is None:
            completion = whitespace_tokens(reply.reasoning) + whitespace_tokens(reply.content)
        return Output(text=text, prompt_tokens=prompt, generated_tokens=completion, finished=finished)

    def _call(self, request: Request, seed: int):
        result = self.client.call(self.payload(request, seed), parse_reply)
        with self._lock:
            self.requests += result.requests
            self.faults.update(result.faults)
        return result

    def generate(self, batch: list[Request], seed: int) -> list[Output]:
        """Outputs in the order of ``batch``, at most ``max_concurrency`` requests in flight.
        Raises :class:`GenerationRequestError` when a request failed for good (after the whole
        batch was tried), the client's :class:`~think_in_safety.http_client.EndpointError` on
        401/403/404."""
        if not batch:
            return []
        workers = min(int(self.max_concurrency), len(batch))
        faults_before = Counter(self.faults)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="generate-api") as pool:
            results = list(pool.map(lambda request: self._call(request, seed), batch))
        new_faults = dict(self.faults - faults_before)
        if new_faults:
            log.info("%s: faults met and retried in this batch: %s", self.model_name or self.model, new_faults)
        failed = [(request, result) for request, result in zip(batch, results) if not result.ok]
        if failed:
            examples = "; ".join(f"{r.id}#{r.sample}: {result.error}" for r, result in failed[:3])
            raise GenerationRequestError(
                f"model {self.model_name or self.model!r}: {len(failed)} of {len(batch)} requests to "
                f"{self.client.url} failed ({examples}). Finished batches are kept in the checkpoint: fix the "
                "cause (server down, rate limit, prompt too long for the served context) and rerun to resume."
            )
        return [self._output(request, result.value) for request, result in zip(batch, results)]

    def count_tokens(self, text: str) -> int:
        """APPROXIMATE: whitespace-separated words (the served model's tokenizer is not local)."""
        return whitespace_tokens(text)

    def sample_settings(self) -> dict:
        """The server and served model (part of the checkpoint key); not the key, the concurrency
        or the timeouts, which do not change a sample."""
        return {"backend": "openai", "base_url": self.base_url, "model": self.model}
