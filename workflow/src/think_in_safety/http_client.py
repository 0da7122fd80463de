"""The HTTP client of OpenAI-compatible chat-completions endpoints, shared by the endpoint judge
(:mod:`think_in_safety.judges.openai_compatible`) and the API generation backend
(:mod:`think_in_safety.models.openai_backend`).

:class:`ChatClient` sends ``POST {base_url}/chat/completions`` with ``requests``, one session per
worker thread (so a thread pool can keep several requests in flight), and

* a request timeout (``timeout_s``) — a read that takes longer is a ``timeout`` fault;
* retries with exponential backoff and jitter on HTTP 408/409/425/429/5xx, timeouts, dropped
  connections, truncated bodies and malformed JSON (a body the caller's ``parse`` refuses counts
  as malformed too): the n-th retry waits a random time in ``[d/2, d]`` with
  ``d = min(max_backoff_s, backoff_s * 2**(n-1))``, and never less than the server's
  ``Retry-After`` (seconds or an HTTP date; at most :data:`MAX_RETRY_AFTER_S`);
* no retry on 400/413/422 and other statuses (that request cannot succeed as it is);
* ``fatal_error`` (:class:`EndpointError` unless a subclass says otherwise) on 401/403/404: bad
  key, model or URL, so no call can succeed;
* every fault counted by kind (``rate_limited``, ``http_5xx``, ``timeout``, ``connection``,
  ``truncated``, ``malformed_json``) in the :class:`CallResult`.
"""

from __future__ import annotations

import base64
import email.utils
import mimetypes
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
FATAL_STATUS = {401, 403, 404}
USER_AGENT = "think-in-safety-workflow/0.1"
#: The longest Retry-After honoured; a longer one (an exhausted daily quota) waits this long.
MAX_RETRY_AFTER_S = 600.0

FATAL_HINTS = {
    401: "check the API key (its environment variable is named by api_key_env)",
    403: "the key may lack access to this model",
    404: "check base_url and model",
}


class EndpointError(RuntimeError):
    """The endpoint refuses every call (authentication, unknown model, wrong URL): retrying would
    not help; the message says what to fix."""


class TransientFault(Exception):
    """A fault worth retrying; ``kind`` is counted, ``retry_after`` (seconds) is honoured."""

    def __init__(self, kind: str, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.kind = kind
        self.retry_after = retry_after


@dataclass(frozen=True)
class CallResult:
    """What one call came to: ``value`` (what ``parse`` made of the body) or ``error`` (why it
    failed for good), the requests it took and the faults met on the way."""

    value: Any = None
    requests: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


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


def first_message(body: object) -> dict:
    """``choices[0].message`` of a chat-completions body; ValueError when it has no such shape."""
    try:
        message = body["choices"][0]["message"]  # type: ignore[index]
    except (KeyError, IndexError, TypeError) as exc:
        raise ValueError(f"no choices[0].message in the response ({type(exc).__name__}: {exc})") from exc
    return message if isinstance(message, dict) else {}


def content_text(content: object) -> str:
    """A message's ``content`` as text: a string as is, content parts' texts joined, None as ''."""
    if content is None:
        return ""
    if isinstance(content, list):  # content parts
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def reply_text(body: object) -> str:
    """``choices[0].message.content`` of a chat-completions body (text parts joined); ValueError
    when the body does not have that shape."""
    return content_text(first_message(body).get("content"))


def image_data_url(path: str | os.PathLike, data: bytes | None = None) -> str:
    """An image as a ``data:`` URL (how OpenAI-compatible endpoints take inline images); the MIME
    type from the file name (PNG when unknown), the bytes read from ``path`` unless given."""
    mime = mimetypes.guess_type(str(path))[0] or "image/png"
    if data is None:
        with open(path, "rb") as handle:
            data = handle.read()
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def api_key_from_env(variable: str | None, owner: str, fix: str, error: type[Exception] = EndpointError) -> str | None:
    """The API key in environment variable ``variable`` (None: no key is sent). ``error`` naming
    the variable, ``owner`` (who needs it) and ``fix`` (how to do without) when it is unset."""
    if not variable:
        return None
    key = os.environ.get(variable, "").strip()
    if not key:
        raise error(f"{owner}: environment variable {variable} (api_key_env) is not set; export the API key in it, "
                    f"or {fix}")
    return key


class ChatClient:
    """A chat-completions client with timeouts, retries, backoff and fault counts (module docstring)."""

    fatal_error: type[Exception] = EndpointError

    def __init__(self, base_url: str, *, api_key: str | None = None, timeout_s: float = 120.0, max_retries: int = 6,
                 backoff_s: float = 1.0, max_backoff_s: float = 60.0, user_agent: str = USER_AGENT,
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, not {base_url!r}")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.api_key = api_key
        self.timeout_s = float(timeout_s)
        self.max_retries = int(max_retries)
        self.backoff_s = float(backoff_s)
        self.max_backoff_s = float(max_backoff_s)
        self.user_agent = user_agent
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["User-Agent"] = self.user_agent
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

    def _attempt(self, payload: dict, parse: Callable[[object], Any]) -> Any:
        try:
            response = self._session().post(self.url, json=payload, timeout=(min(10.0, self.timeout_s), self.timeout_s))
        except requests.Timeout as exc:
            raise TransientFault("timeout", f"no response within {self.timeout_s:g} s") from exc
        except requests.exceptions.ChunkedEncodingError as exc:
            raise TransientFault("truncated", f"response body cut off: {exc}") from exc
        except requests.ConnectionError as exc:
            raise TransientFault("connection", f"connection failed: {exc}") from exc
        status = response.status_code
        if status == 200:
            try:
                return parse(response.json())
            except ValueError as exc:  # JSONDecodeError is a ValueError
                raise TransientFault("malformed_json",
                                     f"unreadable response body ({exc}): {response.text[:200]!r}") from exc
        detail = f"HTTP {status}: {response.text[:300]!r}"
        if status in FATAL_STATUS:
            raise self.fatal_error(f"{self.url} refused the request with {detail}; {FATAL_HINTS[status]}")
        if status in RETRYABLE_STATUS:
            kind = "rate_limited" if status == 429 else f"http_{status // 100}xx" if status >= 500 else f"http_{status}"
            raise TransientFault(kind, detail, parse_retry_after(response.headers.get("Retry-After")))
        raise ValueError(detail)  # 400, 413, 422, ...: this request cannot succeed as it is

    def call(self, payload: dict, parse: Callable[[object], Any] = reply_text) -> CallResult:
        """POST ``payload``, retried on transient faults; ``parse`` turns the JSON body into the
        result's value (a ValueError from it is a ``malformed_json`` fault). Raises ``fatal_error``."""
        faults: Counter = Counter()
        for attempt in range(1, self.max_retries + 2):
            try:
                value = self._attempt(payload, parse)
            except TransientFault as fault:
                faults[fault.kind] += 1
                if attempt > self.max_retries:
                    return CallResult(None, attempt, dict(faults),
                                      f"gave up after {attempt} requests; last fault {fault.kind}: {fault}")
                self._sleep(self.backoff(attempt, fault.retry_after))
            except ValueError as exc:
                return CallResult(None, attempt, dict(faults), f"not retried: {exc}")
            else:
                return CallResult(value, attempt, dict(faults))
        raise AssertionError("unreachable")
