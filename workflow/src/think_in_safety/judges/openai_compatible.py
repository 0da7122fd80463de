"""LLM judges on any OpenAI-compatible chat-completions endpoint (OpenAI, Azure-style gateways,
vLLM, SGLang, llama.cpp server, ``transformers serve``, ...).

:class:`ChatEndpoint` is the HTTP client: ``POST {base_url}/chat/completions`` with ``requests``,
one session per worker thread, and

* a request timeout (``timeout_s``) — a read that takes longer is a ``timeout`` fault;
* retries with exponential backoff and jitter on HTTP 408/409/425/429/5xx, timeouts, dropped
  connections, truncated bodies and malformed JSON: the n-th retry waits a random time in
  ``[d/2, d]`` with ``d = min(max_backoff_s, backoff_s * 2**(n-1))``, and never less than the
  server's ``Retry-After`` (seconds or an HTTP date; at most :data:`MAX_RETRY_AFTER_S`);
* no retry on 400/413/422 (that request cannot succeed: an ``error`` row), and a
  :class:`~.llm.JudgeEndpointError` on 401/403/404 (bad key, model or URL: no call can succeed);
* every fault counted by kind (``rate_limited``, ``http_5xx``, ``timeout``, ``connection``,
  ``truncated``, ``malformed_json``) for the run's log.

:class:`OpenAICompatibleJudge` sends each protocol's prompt (images inline as ``data:`` URLs,
for the protocols that show the judge the image) with at most ``max_concurrency`` requests in
flight. The API key is read from the environment variable named by ``api_key_env``; it is never
written anywhere.
"""

from __future__ import annotations

import email.utils
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import requests

from think_in_safety.judges.cache import DEFAULT_CACHE_PATH
from think_in_safety.judges.llm import (
    CallFailure,
    Completion,
    JudgeEndpointError,
    PreparedCall,
    ProtocolJudge,
)

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
FATAL_STATUS = {401, 403, 404}
USER_AGENT = "think-in-safety-workflow/0.1 (judge)"
#: The longest Retry-After honoured; a longer one (an exhausted daily quota) waits this long.
MAX_RETRY_AFTER_S = 600.0


class _Retry(Exception):
    """A transient fault; ``kind`` is counted, ``retry_after`` (seconds) is honoured."""

    def __init__(self, kind: str, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.kind = kind
        self.retry_after = retry_after


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), else None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def reply_text(body: object) -> str:
    """``choices[0].message.content`` of a chat-completions body (text parts joined); ValueError
    when the body does not have that shape."""
    try:
        message = body["choices"][0]["message"]  # type: ignore[index]
    except (KeyError, IndexError, TypeError) as exc:
        raise ValueError(f"no choices[0].message in the response ({type(exc).__name__}: {exc})") from exc
    content = message.get("content") if isinstance(message, dict) else None
    if content is None:
        return ""
    if isinstance(content, list):  # content parts
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


class ChatEndpoint:
    """A chat-completions client with timeouts, retries, backoff and fault counts."""

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, timeout_s: float = 120.0,
                 max_retries: int = 6, backoff_s: float = 1.0, max_backoff_s: float = 60.0,
                 extra_body: Mapping | None = None, sleep=time.sleep, rng: random.Random | None = None) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, not {base_url!r}")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout_s = float(timeout_s)
        self.max_retries = int(max_retries)
        self.backoff_s = float(backoff_s)
        self.max_backoff_s = float(max_backoff_s)
        self.extra_body = dict(extra_body or {})
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["User-Agent"] = USER_AGENT
            if self.api_key:
                session.headers["Authorization"] = f"Bearer {self.api_key}"
            self._local.session = session
        return session

    def backoff(self, retry: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        ceiling = min(self.max_backoff_s, self.backoff_s * 2 ** (retry - 1))
        delay = self._rng.uniform(ceiling / 2, ceiling) if ceiling > 0 else 0.0
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER_S))
        return delay

    def _attempt(self, payload: dict) -> str:
        try:
            response = self._session().post(self.url, json=payload, timeout=(min(10.0, self.timeout_s), self.timeout_s))
        except requests.Timeout as exc:
            raise _Retry("timeout", f"no response within {self.timeout_s:g} s") from exc
        except requests.exceptions.ChunkedEncodingError as exc:
            raise _Retry("truncated", f"response body cut off: {exc}") from exc
        except requests.ConnectionError as exc:
            raise _Retry("connection", f"connection failed: {exc}") from exc
        status = response.status_code
        if status == 200:
            try:
                return reply_text(response.json())
            except ValueError as exc:  # JSONDecodeError is a ValueError
                raise _Retry("malformed_json", f"unreadable response body ({exc}): {response.text[:200]!r}") from exc
        detail = f"HTTP {status}: {response.text[:300]!r}"
        if status in FATAL_STATUS:
            hint = {401: "check the API key (its environment variable is named by api_key_env)",
                    403: "the key may lack access to this model", 404: "check base_url and model"}[status]
            raise JudgeEndpointError(f"{self.url} refused the request with {detail}; {hint}")
        if status in RETRYABLE_STATUS:
            kind = "rate_limited" if status == 429 else f"http_{status // 100}xx" if status >= 500 else f"http_{status}"
            raise _Retry(kind, detail, parse_retry_after(response.headers.get("Retry-After")))
        raise ValueError(detail)  # 400, 413, 422, ...: this request cannot succeed as it is

    def complete(self, messages: list[dict], *, temperature: float = 0.0,
                 max_tokens: int = 1024) -> Completion | CallFailure:
        """One chat completion, retried on transient faults. Raises :class:`JudgeEndpointError`."""
        payload = {"model": self.model, "messages": messages, "temperature": temperature,
                   "max_tokens": max_tokens, **self.extra_body}
        faults: Counter = Counter()
        for attempt in range(1, self.max_retries + 2):
            try:
                text = self._attempt(payload)
            except _Retry as fault:
                faults[fault.kind] += 1
                if attempt > self.max_retries:
                    return CallFailure(f"gave up after {attempt} requests; last fault {fault.kind}: {fault}",
                                       attempt, dict(faults))
                self._sleep(self.backoff(attempt, fault.retry_after))
            except ValueError as exc:
                return CallFailure(f"not retried: {exc}", attempt, dict(faults))
            else:
                return Completion(text, attempt, dict(faults))
        raise AssertionError("unreachable")


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
