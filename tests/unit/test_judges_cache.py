"""The judge reply cache: what the key depends on, persistence, and the prepared calls' keys."""

from __future__ import annotations

from think_in_safety.judges import make_judge
from think_in_safety.judges.cache import JudgeCache, cache_key
from think_in_safety.judges.protocols import JudgeCall, image, text, user

MESSAGES = [{"role": "user", "content": [{"type": "text", "value": "Answer: hi"}]}]
BASE = ("gpt-4o", "https://api.example.org/v1", "harm-judge-v1", MESSAGES, {"temperature": 0.0})


def test_key_depends_on_model_endpoint_version_inputs_and_settings():
    key = cache_key(*BASE)
    assert key == cache_key(*BASE)
    variants = [
        ("gpt-4o-mini", *BASE[1:]),
        (BASE[0], "http://127.0.0.1:8000/v1", *BASE[2:]),
        (*BASE[:2], "harm-judge-v2", *BASE[3:]),
        (*BASE[:3], [{"role": "user", "content": [{"type": "text", "value": "Answer: hello"}]}], BASE[4]),
        (*BASE[:4], {"temperature": 0.7}),
    ]
    assert len({cache_key(*variant) for variant in variants} | {key}) == len(variants) + 1


def test_replies_persist_across_instances(tmp_path):
    path = tmp_path / "cache" / "replies.sqlite"
    first = JudgeCache(path)
    assert first.get("k") is None and first.misses == 1
    first.put("k", "unsafe", model="m", endpoint="e", prompt_version="v")
    first.close()
    second = JudgeCache(path)
    assert second.get("k") == "unsafe" and second.hits == 1 and len(second) == 1
    second.close()


def test_no_cache_keeps_nothing(tmp_path):
    cache = JudgeCache(None)
    cache.put("k", "safe")
    assert cache.get("k") is None and len(cache) == 0


def test_image_enters_the_key_by_content_not_path(tmp_path):
    judge = make_judge("j", {"backend": "openai_compatible", "base_url": "http://127.0.0.1:1/v1", "model": "m",
                             "api_key_env": None, "cache": None})
    a, b, c = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    a.write_bytes(b"same bytes")
    b.write_bytes(b"same bytes")
    c.write_bytes(b"other bytes")

    def key(path):
        return judge.prepare(JudgeCall("safety", "siuo-judge-v1/safety", (user(image(str(path)), text("q")),))).key

    assert key(a) == key(b) != key(c)
