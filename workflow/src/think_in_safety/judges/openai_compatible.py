"""LLM judges on any OpenAI-compatible chat-completions endpoint (OpenAI, Azure-style gateways,
vLLM, SGLang, llama.cpp server, ``transformers serve``, ...).

:class:`ChatEndpoint` is the HTTP client: :class:`think_in_safety.http_client.ChatClient` (shared
with the API generation backend; its docstring lists the timeout, retry, backoff and Retry-After
rules and the fault kinds counted) with the judge's own payload (model, temperature, max tokens,
``extra_body``) and outcomes: a reply is a :class:`~.llm.Completion`; a call that fails for good
(retries spent, or 400/413/422) is a :class:`~.llm.CallFailure`, an ``error`` row; a
:class:`~.llm.JudgeEndpointError` is raised on 401/403/404 (bad key, model or URL: no call can
succeed).

:class:`OpenAICompatibleJudge` sends each protocol's prompt (images inline as ``data:`` URLs,
for the protocols that show the judge the image) with at most ``max_concurrency`` requests in
flight. The API key is read from the environment variable named by ``api_key_env``; it is never
written anywhere.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from think_in_safety.http_client import (  # noqa: F401  (re-exported: the judge's client API)
    FATAL_STATUS,
    MAX_RETRY_AFTER_S,
    RETRYABLE_STATUS,
    ChatClient,
    parse_retry_after,
    reply_text,
)
from think_in_safety.judges.cache import DEFAULT_CACHE_PATH
from think_in_safety.judges.llm import (
    CallFailure,
    Completion,
    JudgeEndpointError,
    PreparedCall,
    ProtocolJudge,
)

USER_AGENT = "think-in-safety-workflow/0.1 (judge)"


class ChatEndpoint(ChatClient):
    """The judge's chat-completions client: :class:`~think_in_safety.http_client.ChatClient` with
    the judge model, ``extra_body``, and replies as :class:`~.llm.Completion` or
    :class:`~.llm.CallFailure`."""

    fatal_error = JudgeEndpointError

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, timeout_s: float = 120.0,
                 max_retries: int = 6, backoff_s: float = 1.0, max_backoff_s: float = 60.0,
                 extra_body: Mapping | None = None, sleep=time.sleep, rng=None) -> None:
        super().__init__(base_url, api_key=api_key, timeout_s=timeout_s, max_retries=max_retries,
                         backoff_s=backoff_s, max_backoff_s=max_backoff_s, user_agent=USER_AGENT, sleep=sleep,
                         rng=rng)
        self.model = model
        self.extra_body = dict(extra_body or {})

    def complete(self, messages: list[dict], *, temperature: float = 0.0,
                 max_tokens: int = 1024) -> Completion | CallFailure:
        """One chat completion, retried on transient faults. Raises :class:`JudgeEndpointError`."""
        payload = {"model": self.model, "messages": messages, "temperature": temperature,
                   "max_tokens": max_tokens, **self.extra_body}
        result = self.call(payload, reply_text)
        if result.ok:
            return Completion(result.value, result.requests, result.faults)
        return CallFailure(result.error, result.requests, result.faults)


class OpenAICompatibleJudge(ProtocolJudge):
    """Each benchmark's judge protocol on an OpenAI-compatible chat-completions endpoint.

    Parameters (besides :class:`~.llm.ProtocolJudge`'s)
    ----------
    base_url:
        The API root, e.g. ``https://api.openai.com/v1`` or ``http://127.0.0.1:8000/v1``.
    model:
        The model name the endpoint serves (written into every judgment's identity).
    api_key_env:
        Name of the environment variable holding the API key; ``None`` sends no key (local servers).
    temperature, max_tokens:
        Decoding of the judge (0.0 and 1024 by default: the protocols' replies are short).
    timeout_s, max_retries, backoff_s, max_backoff_s:
        Per-request timeout and retry policy (see :class:`ChatEndpoint`).
    max_concurrency:
        Requests in flight at once.
    extra_body:
        Further JSON fields of every request (e.g. ``{"seed": 0}``).
    """

    backend = "openai_compatible"

    def __init__(self, name: str, *, base_url: str, model: str, api_key_env: str | None = "OPENAI_API_KEY",
                 temperature: float = 0.0, max_tokens: int = 1024, timeout_s: float = 120.0, max_retries: int = 6,
                 backoff_s: float = 1.0, max_backoff_s: float = 60.0, max_concurrency: int = 8,
                 extra_body: Mapping | None = None, protocols: Mapping[str, str] | None = None,
                 siuo_effectiveness: bool = True, cache: str | None = DEFAULT_CACHE_PATH,
                 max_error_fraction: float = 0.05, judge_target: str = "answer", empty_answer: str = "raw") -> None:
        super().__init__(name, protocols=protocols, siuo_effectiveness=siuo_effectiveness, cache=cache,
                         max_error_fraction=max_error_fraction, judge_target=judge_target, empty_answer=empty_answer)
        if int(max_concurrency) < 1:
            raise ValueError(f"judge {name!r}: max_concurrency must be at least 1, not {max_concurrency!r}")
        self.base_url = base_url.rstrip("/")
        self._model = model
        self.api_key_env = api_key_env
        self.temperature = float(temperature)
        self.max_tokens = int(max_tokens)
        self.max_concurrency = int(max_concurrency)
        self.client = ChatEndpoint(self.base_url, model, api_key=None, timeout_s=timeout_s, max_retries=max_retries,
                                   backoff_s=backoff_s, max_backoff_s=max_backoff_s, extra_body=extra_body)

    @property
    def model(self) -> str:
        return self._model

    @property
    def endpoint(self) -> str:  # type: ignore[override]
        return self.base_url

    def settings(self) -> dict:
        return {"temperature": self.temperature, "max_tokens": self.max_tokens, **self.client.extra_body}

    def api_key(self) -> str | None:
        """The key from ``api_key_env``; ValueError naming the variable when it is unset."""
        if not self.api_key_env:
            return None
        key = os.environ.get(self.api_key_env, "").strip()
        if not key:
            raise JudgeEndpointError(
                f"judge {self.name!r}: environment variable {self.api_key_env} (api_key_env) is not set; export "
                f"the API key of {self.base_url} in it, or set judges.{self.name}.api_key_env: null for a server "
                "that needs no key"
            )
        return key

    def payload_messages(self, item: PreparedCall) -> list[dict]:
        """The call's messages in chat-completions form; images as ``data:`` URLs."""
        messages = []
        for message in item.call.messages:
            if all(part.kind == "text" for part in message.parts):
                messages.append({"role": message.role, "content": message.text()})
                continue
            content = [
                {"type": "text", "text": part.value} if part.kind == "text"
                else {"type": "image_url", "image_url": {"url": item.data_url(part.value)}}
                for part in message.parts
            ]
            messages.append({"role": message.role, "content": content})
        return messages

    def complete_calls(self, calls: list[PreparedCall]) -> Iterator[tuple[PreparedCall, Completion | CallFailure]]:
        if not calls:
            return
        self.client.api_key = self.api_key()

        def run(item: PreparedCall) -> Completion | CallFailure:
            return self.client.complete(self.payload_messages(item), temperature=self.temperature,
                                        max_tokens=self.max_tokens)

        # Submit at most max_concurrency at a time so a fatal error leaves little in flight.
        queue = iter(calls)
        with ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix=f"judge-{self.name}") as pool:
            running = {}
            for item in queue:
                running[pool.submit(run, item)] = item
                if len(running) >= self.max_concurrency:
                    break
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    item = running.pop(future)
                    outcome = future.result()  # JudgeEndpointError propagates; in-flight calls finish
                    yield item, outcome
                    next_item = next(queue, None)
                    if next_item is not None:
                        running[pool.submit(run, next_item)] = next_item
