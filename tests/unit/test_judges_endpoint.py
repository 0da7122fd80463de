"""The chat-completions client's pure parts: Retry-After, backoff with jitter, reply shapes.
(Its behaviour against a live server with injected faults is in tests/servers/.)"""

from __future__ import annotations

import email.utils
import random
import time

import pytest

from think_in_safety.judges.openai_compatible import MAX_RETRY_AFTER_S, ChatEndpoint, parse_retry_after, reply_text


def test_parse_retry_after_seconds_and_http_date():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert 28.0 <= parse_retry_after(date, now=now) <= 31.0
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0


def test_backoff_doubles_with_jitter_caps_and_honours_retry_after():
    endpoint = ChatEndpoint("http://127.0.0.1:1/v1", "m", backoff_s=1.0, max_backoff_s=8.0, rng=random.Random(0))
    for retry, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)):
        delays = [endpoint.backoff(retry, None) for _ in range(50)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(set(delays)) > 1  # jitter
    assert endpoint.backoff(1, 30.0) >= 30.0  # never sooner than the server asked, even beyond max_backoff_s
    assert endpoint.backoff(1, 86400.0) == MAX_RETRY_AFTER_S  # an exhausted daily quota: wait, then try again


def test_reply_text_shapes():
    assert reply_text({"choices": [{"message": {"role": "assistant", "content": "safe"}}]}) == "safe"
    parts = {"choices": [{"message": {"content": [{"type": "text", "text": "un"}, {"type": "text", "text": "safe"}]}}]}
    assert reply_text(parts) == "unsafe"
    assert reply_text({"choices": [{"message": {"content": None}}]}) == ""
    for body in ({}, {"choices": []}, {"error": {"message": "x"}}, ["not", "a", "dict"]):
        with pytest.raises(ValueError, match="no choices"):
            reply_text(body)
