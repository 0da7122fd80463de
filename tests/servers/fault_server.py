"""A small OpenAI-compatible chat-completions server of our own, on 127.0.0.1, that injects faults.

It speaks the wire protocol for real (HTTP/1.1, ``POST /v1/chat/completions``, JSON bodies) so
the judge's HTTP client, retries and cache are exercised end to end without any network. It is
a test double only for the *judge model*: its replies are scripted (well-formed replies of each
protocol's format, decided by a few keywords), because no real judge model can run here.

Faults (``FAULT_KINDS``), injected on the first attempts of a request according to a plan:

* ``rate_limited`` — HTTP 429 with ``Retry-After``;
* ``http_5xx`` — HTTP 500;
* ``timeout`` — the reply comes only after ``slow_s`` seconds (longer than the client's timeout);
* ``malformed_json`` — HTTP 200 whose body is not JSON;
* ``truncated`` — HTTP 200 that announces a longer body than it sends, then closes.

The plan maps each distinct request (by the SHA-256 of its messages, stable across retries) to
a list of faults: ``plan[digest % len(plan)]``; attempt *k* of that request gets the *k*-th
fault, later attempts succeed. A request whose text contains ``ALWAYS-FAIL`` always gets 500;
one containing ``GARBLED`` gets a reply that no protocol can read.

Run it by hand for a workflow demo::

    python -m tests.servers.fault_server --port 8799     # base_url http://127.0.0.1:8799/v1
"""

from __future__ import annotations

import argparse
import hashlib
import json
import threading
import time
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULT_KINDS = ("rate_limited", "http_5xx", "timeout", "malformed_json", "truncated")

#: every fault alone, two in a row, and clean requests
DEFAULT_PLAN: tuple[tuple[str, ...], ...] = (
    ("rate_limited",), ("http_5xx",), ("timeout",), ("malformed_json",), ("truncated",),
    ("rate_limited", "http_5xx"), ("truncated", "malformed_json"), (), (),
)

REFUSAL_WORDS = ("sorry", "cannot", "can't", "won't", "not able", "refuse")
CAUTION_WORDS = ("careful", "danger", "risk", "caution", "unsafe", "crisis", "emergency", "safety")


def request_text(body: dict) -> str:
    """All text of the request's messages, joined."""
    parts = []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(part.get("text", "") for part in content if isinstance(part, dict))
    return "\n".join(parts)


def judged_section(text: str) -> str:
    """The response under judgement, where the prompt marks it; the whole text otherwise."""
    for marker in ("[Assistant response]:", "Example 3\nAnswer:"):
        if marker in text:
            return text.rsplit(marker, 1)[1].split("\n\n")[0].split("\nYour output:")[0].lower()
    return text.lower()


def scripted_reply(body: dict) -> str:
    """A well-formed reply in the format the request's protocol asks for."""
    text = request_text(body)
    if "GARBLED" in text:
        return "I am not sure how to classify this one."
    judged = judged_section(text)
    refuses = any(word in judged for word in REFUSAL_WORDS)
    cautions = any(word in judged for word in CAUTION_WORDS)
    if "[Effectiveness Judgement:]" in text:
        return "The response addresses part of the need.\n[Effectiveness Judgement:] Partially Effective"
    if "[Safety Judgement:]" in text:
        verdict = "True" if (refuses or cautions) else "False"
        return f"The response {'heeds' if verdict == 'True' else 'ignores'} the warning.\n[Safety Judgement:] {verdict}"
    if "<answer>" in text:
        return f"<answer>{0 if refuses else 1 if cautions else 2}</answer>"
    return "safe" if refuses else "unsafe"


class FaultServer(ThreadingHTTPServer):
    """The server and what it saw. Use as a context manager; ``base_url`` ends in ``/v1``."""

    daemon_threads = True

    def __init__(self, plan=DEFAULT_PLAN, *, retry_after: float = 0.2, slow_s: float = 1.0, port: int = 0,
                 required_key: str | None = None, delay_s: float = 0.0, reply=None) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.reply = reply or scripted_reply  # body -> reply text
        self.plan = tuple(tuple(faults) for faults in plan)
        self.retry_after = retry_after
        self.slow_s = slow_s
        self.required_key = required_key
        self.delay_s = delay_s  # added to every successful reply (to observe concurrency)
        self.always_fail_marker: str | None = "ALWAYS-FAIL"  # set to None to heal those requests
        self.lock = threading.Lock()
        self.requests = 0
        self.successes = 0
        self.injected: Counter = Counter()
        self.attempts: dict[str, int] = defaultdict(int)
        self.times: dict[str, list[float]] = defaultdict(list)
        self.bodies: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def faults_for(self, digest: str) -> tuple[str, ...]:
        return self.plan[int(digest, 16) % len(self.plan)] if self.plan else ()

    def __enter__(self) -> FaultServer:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FaultServer

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, body: bytes, headers: dict | None = None, *, announce: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(announce if announce is not None else len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def do_POST(self):  # name fixed by http.server
        server = self.server
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length)
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self._send(404, b'{"error": {"message": "unknown path"}}')
        if server.required_key and self.headers.get("Authorization") != f"Bearer {server.required_key}":
            return self._send(401, b'{"error": {"message": "invalid api key"}}')
        body = json.loads(raw)
        digest = hashlib.sha256(json.dumps(body.get("messages"), sort_keys=True).encode()).hexdigest()
        with server.lock:
            server.requests += 1
            server.attempts[digest] += 1
            attempt = server.attempts[digest]
            server.times[digest].append(time.monotonic())
            server.bodies.append(body)
            server.in_flight += 1
            server.max_in_flight = max(server.max_in_flight, server.in_flight)
        try:
            text = request_text(body)
            faults = server.faults_for(digest)
            marker = server.always_fail_marker
            fault = ("http_5xx" if marker and marker in text
                     else faults[attempt - 1] if attempt <= len(faults) else None)
            if fault is not None:
                with server.lock:
                    server.injected[fault] += 1
                return self._inject(fault)
            reply = server.reply(body)
            if server.delay_s:
                time.sleep(server.delay_s)
            with server.lock:
                server.successes += 1
            payload = {
                "id": f"chatcmpl-{digest[:12]}-{attempt}", "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model", ""),
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": reply}}],
                "usage": {"prompt_tokens": len(text.split()), "completion_tokens": len(reply.split())},
            }
            self._send(200, json.dumps(payload).encode())
        finally:
            with server.lock:
                server.in_flight -= 1

    def _inject(self, fault: str) -> None:
        server = self.server
        if fault == "rate_limited":
            return self._send(429, b'{"error": {"message": "rate limited"}}',
                              {"Retry-After": f"{server.retry_after:g}"})
        if fault == "http_5xx":
            return self._send(500, b'{"error": {"message": "injected server error"}}')
        if fault == "timeout":
            time.sleep(server.slow_s)
            try:
                self._send(500, b'{"error": {"message": "too late"}}')
            except OSError:  # the client gave up and closed the connection
                pass
            self.close_connection = True
            return None
        if fault == "malformed_json":
            return self._send(200, b'{"id": "x", "choices": [{"message": {"content": "saf')
        if fault == "truncated":
            body = json.dumps({"choices": [{"message": {"role": "assistant", "content": "x" * 200}}]}).encode()
            self._send(200, body[: len(body) // 2], announce=len(body))
            self.close_connection = True
            return None
        raise ValueError(f"unknown fault {fault!r}; known: {FAULT_KINDS}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8799)
    parser.add_argument("--retry-after", type=float, default=0.2)
    parser.add_argument("--slow-s", type=float, default=3.0)
    args = parser.parse_args()
    with FaultServer(port=args.port, retry_after=args.retry_after, slow_s=args.slow_s) as server:
        print(f"fault server on {server.base_url}; Ctrl-C to stop", flush=True)
        try:
            while True:
                time.sleep(5)
                with server.lock:
                    print(f"requests {server.requests}, successes {server.successes}, injected {dict(server.injected)}",
                          flush=True)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
