"""The API generation backend (backend openai) against our fault-injecting chat-completions server
on 127.0.0.1, a stand-in for a served model (vLLM/SGLang serve, transformers serve) or a hosted
API: faults retried (429 with Retry-After, 5xx, truncated bodies), every sample generated once,
images as data URLs, the server's reasoning field split into thought and answer, token counts
from usage, a killed run resumed without redoing finished samples, and the registry wiring.

The server speaks real HTTP; only its replies are scripted (the "model" below echoes what it was
sent, so each reply shows which request it answers)."""

from __future__ import annotations

import base64
import copy
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml
from PIL import Image

from think_in_safety.config import (
    ConfigError,
    api_model_settings,
    hub_manifest,
    validate_config,
    weights_location,
)
from think_in_safety.http_client import EndpointError
from think_in_safety.models import generate
from think_in_safety.models.openai_backend import (
    GenerationRequestError,
    OpenAIBackend,
    join_reasoning,
    request_seed,
)
from think_in_safety.models.thought import split_thought
from think_in_safety.tables import RESPONSE_COLUMNS

from tests.servers.fault_server import FaultServer, _Handler, request_text

from ..conftest import REPO

FAST = {"backoff_s": 0.001, "max_backoff_s": 0.01, "timeout_s": 5.0, "api_key_env": None}
DECODING = {"max_new_tokens": 64, "temperature": 0.7, "top_p": 0.9}
PLAN = (("rate_limited",), ("http_5xx",), ("truncated",), ("rate_limited", "http_5xx"), ("truncated", "http_5xx"),
        (), ())


# ---------------------------------------------------------------------------------- server


class _ServedModelHandler(_Handler):
    """The fault server's handler, whose successful replies carry what a served reasoning model
    returns: ``reasoning_content`` or ``reasoning`` beside ``content``, a finish_reason, usage."""

    def _send(self, status, body, headers=None, *, announce=None):
        if status == 200 and announce is None:
            try:
                payload = json.loads(body)
            except ValueError:  # an injected malformed body: sent as it is
                payload = None
            if isinstance(payload, dict) and payload.get("object") == "chat.completion":
                choice = payload["choices"][0]
                spec = json.loads(choice["message"]["content"])
                choice["message"] = {"role": "assistant", **spec["message"]}
                choice["finish_reason"] = spec["finish_reason"]
                payload["usage"] = spec["usage"]
                body = json.dumps(payload).encode()
        super()._send(status, body, headers, announce=announce)


class ServedModel(FaultServer):
    """A loopback chat-completions server with faults whose 'model' echoes the request: the
    answer names the prompt and seed, the reasoning (field ``reasoning_content``; ``reasoning``
    for prompts containing 'ALT') the image count. A prompt containing 'LONG' is cut off while
    reasoning (finish_reason length, no answer). Every successful reply is recorded in
    ``answered`` as (user text, seed)."""

    def __init__(self, plan=PLAN, **options):
        super().__init__(plan, reply=self.model_reply, **options)
        self.RequestHandlerClass = _ServedModelHandler
        self.answered: list[tuple[str, int]] = []

    def model_reply(self, body: dict) -> str:
        text = "\n".join(line for line in request_text(body).split("\n") if line)  # image parts have no text
        user = body["messages"][-1]["content"]
        images = sum(1 for part in user if part.get("type") == "image_url") if isinstance(user, list) else 0
        with self.lock:
            self.answered.append((text, body["seed"]))
        reasoning = f"The user shows {images} image(s). I should think it over."
        field = "reasoning" if "ALT" in text else "reasoning_content"
        if "LONG" in text:
            message, finish = {"content": "", field: reasoning}, "length"
        else:
            message, finish = {"content": f"Answer to [{text}] seed={body['seed']}", field: reasoning}, "stop"
        usage = {"prompt_tokens": 100 + 50 * images, "completion_tokens": 17}
        return json.dumps({"message": message, "finish_reason": finish, "usage": usage})


@pytest.fixture()
def server():
    with ServedModel(retry_after=0.2) as running:
        yield running


def backend(server: FaultServer, **options) -> OpenAIBackend:
    settings = {"model": "served-thinker", "thought_format": "think_tags", "model_name": "thinker", **FAST, **options}
    return OpenAIBackend(server.base_url, decoding=dict(settings.pop("decoding", DECODING)), **settings)


@pytest.fixture()
def prompts(tmp_path, monkeypatch):
    """Five prompts, 8 samples: images (one and two), a system prompt, text-only, a cut-off one."""
    monkeypatch.chdir(tmp_path)  # image paths are relative to the workflow directory
    Image.new("RGB", (40, 30), "red").save("red.png")
    Image.new("RGB", (20, 20), "blue").save("blue.png")
    return pd.DataFrame({
        "id": ["p/1", "p/2", "p/3", "p/4", "p/5"],
        "prompt": ["What is shown?", "Compare the two.", "Tips for sleeping better? ALT", "LONG question",
                   "Say hi."],
        "image_paths": [["red.png"], ["red.png", "blue.png"], [], ["blue.png"], []],
        "system_prompt": ["", "Answer briefly.", "", "", ""],
        "n_samples": [3, 1, 2, 1, 1],
    })


KEYS = [("p/1", 0), ("p/1", 1), ("p/1", 2), ("p/2", 0), ("p/3", 0), ("p/3", 1), ("p/4", 0), ("p/5", 0)]


def keys(frame: pd.DataFrame) -> list[tuple[str, int]]:
    return list(zip(frame["id"], frame["sample"].astype(int)))


# ---------------------------------------------------------------------------------- tests


def test_every_sample_is_generated_once_through_faults(server, prompts, tmp_path):
    api = backend(server, max_concurrency=3)
    frame = generate.generate_responses(prompts, "thinker", "api", "think_tags", DECODING, tmp_path / "r.parquet",
                                        batch_size=3, seed=5, log=lambda _: None, backend=api)

    assert keys(frame) == KEYS and list(frame.columns) == list(RESPONSE_COLUMNS)
    assert {"rate_limited", "http_5xx", "truncated"} <= set(server.injected)  # the faults happened ...
    assert api.faults == server.injected  # ... and each was seen, counted and retried
    assert api.requests == server.requests == len(KEYS) + sum(server.injected.values())
    # one successful reply per sample: the seeds the server answered are exactly the samples'
    requests = generate.expand_requests(prompts)
    expected = Counter(request_seed(5 + position // 3, request) for position, request in enumerate(requests))
    assert Counter(seed for _, seed in server.answered) == expected and len(expected) == len(KEYS)
    for row, request in zip(frame.itertuples(), requests):
        assert f"seed={request_seed(5 + KEYS.index((row.id, row.sample)) // 3, request)}" in row.raw or row.id == "p/4"
    # a 429 is retried no sooner than its Retry-After (0.2 s), although backoff alone is ~1 ms
    limited = [times for digest, times in server.times.items() if server.faults_for(digest)[:1] == ("rate_limited",)]
    assert limited and all(times[1] - times[0] >= 0.19 for times in limited)


def test_reasoning_field_is_the_thought_and_usage_the_token_counts(server, prompts, tmp_path):
    frame = generate.generate_responses(prompts, "thinker", "api", "think_tags", DECODING, tmp_path / "r.parquet",
                                        batch_size=4, log=lambda _: None, backend=backend(server))
    rows = frame.set_index(["id", "sample"])
    first = rows.loc[("p/1", 0)]
    assert first["raw"].startswith("<think>\nThe user shows 1 image(s).") and "</think>" in first["raw"]
    assert first["has_thought"] and first["thought"] == "The user shows 1 image(s). I should think it over."
    assert first["answer"].startswith("Answer to [What is shown?]") and "<think>" not in first["answer"]
    assert rows.loc[("p/2", 0), "thought"].startswith("The user shows 2 image(s)")
    assert rows.loc[("p/3", 1), "thought"].startswith("The user shows 0 image(s)")  # the 'reasoning' field
    # cut off while reasoning: a thought, no answer, not finished
    cut = rows.loc[("p/4", 0)]
    assert cut["has_thought"] and cut["answer"] == "" and not cut["finished"] and "</think>" not in cut["raw"]
    assert frame.loc[frame["id"] != "p/4", "finished"].all()
    # prompt and completion tokens are the server's usage; thought/answer tokens whitespace words
    assert rows.loc[("p/2", 0), "prompt_tokens"] == 200 and rows.loc[("p/5", 0), "prompt_tokens"] == 100
    assert (frame["generated_tokens"] == 17).all()
    assert first["thought_tokens"] == len(first["thought"].split()) == 10
    assert first["answer_tokens"] == len(first["answer"].split())


def test_images_arrive_as_data_urls_with_the_chat_of_the_request(prompts, tmp_path):
    with ServedModel(()) as server:
        backend(server).generate(generate.expand_requests(prompts.iloc[[1]]), seed=0)
        (body,) = server.bodies
    system, user = body["messages"]
    assert system == {"role": "system", "content": "Answer briefly."}
    assert user["role"] == "user" and [part["type"] for part in user["content"]] == ["image_url", "image_url", "text"]
    assert user["content"][2]["text"] == "Compare the two."
    for part, name in zip(user["content"], ["red.png", "blue.png"]):
        url = part["image_url"]["url"]
        assert url.startswith("data:image/png;base64,")
        assert base64.b64decode(url.split(",", 1)[1]) == (tmp_path / name).read_bytes()


def test_decoding_and_per_sample_seeds_in_the_request(prompts):
    with ServedModel(()) as server:
        requests = generate.expand_requests(prompts.iloc[[0]])
        backend(server).generate(requests, seed=3)
        backend(server, decoding={"temperature": 0.0, "max_new_tokens": 9}).generate(requests[:1], seed=3)
    sampled, greedy = server.bodies[:3], server.bodies[3]
    assert {(b["model"], b["temperature"], b["top_p"], b["max_tokens"]) for b in sampled} == {
        ("served-thinker", 0.7, 0.9, 64)}
    assert len({b["seed"] for b in sampled}) == 3  # the three samples of one prompt differ
    assert sorted(b["seed"] for b in sampled) == sorted(request_seed(3, r) for r in requests)
    assert (greedy["temperature"], greedy["top_p"], greedy["max_tokens"]) == (0.0, 1.0, 9)
    assert [message["role"] for message in greedy["messages"]] == ["user"]  # no system prompt: none sent


def test_requests_of_a_batch_run_concurrently_up_to_the_limit(prompts):
    with ServedModel((), delay_s=0.15) as server:
        started = time.monotonic()
        requests = generate.expand_requests(prompts.iloc[[0, 2, 4]].assign(n_samples=3))
        backend(server, max_concurrency=3).generate(requests, seed=0)
        elapsed = time.monotonic() - started
    assert server.max_in_flight == 3 and len(server.answered) == 9
    assert elapsed < 9 * 0.15 * 0.7  # not one after another


def test_missing_api_key_fails_before_the_first_request(monkeypatch):
    with ServedModel((), required_key="s3cret") as server:
        monkeypatch.delenv("TIS_TEST_GENERATION_KEY", raising=False)
        with pytest.raises(EndpointError, match=r"TIS_TEST_GENERATION_KEY \(api_key_env\) is not set.*"
                                                r"models\.thinker\.api_key_env: null"):
            backend(server, api_key_env="TIS_TEST_GENERATION_KEY")
        assert server.requests == 0
        request = generate.Request("x", 0, "", "Say hi.")
        monkeypatch.setenv("TIS_TEST_GENERATION_KEY", "wrong")
        with pytest.raises(EndpointError, match="HTTP 401.*check the API key"):
            backend(server, api_key_env="TIS_TEST_GENERATION_KEY").generate([request], seed=0)
        monkeypatch.setenv("TIS_TEST_GENERATION_KEY", "s3cret")
        (output,) = backend(server, api_key_env="TIS_TEST_GENERATION_KEY").generate([request], seed=0)
    assert output.text.endswith(f"Answer to [Say hi.] seed={request_seed(0, request)}")


def test_a_request_that_keeps_failing_fails_the_batch_with_what_to_do(prompts):
    with ServedModel(((),)) as server:
        requests = generate.expand_requests(prompts.iloc[[4]].assign(prompt="ALWAYS-FAIL please"))
        with pytest.raises(GenerationRequestError, match=r"1 of 1 requests.*gave up after 3 requests.*rerun to resume"):
            backend(server, max_retries=2).generate(requests, seed=0)
    assert server.injected == Counter({"http_5xx": 3})


def test_reasoning_joins_in_each_thought_format_and_splits_back():
    for fmt in ("think_tags", "llava_cot_stages"):
        text = join_reasoning("Step one. Step two.", "The answer.", fmt)
        assert split_thought(text, fmt) == ("Step one. Step two.", "The answer.", True)
        cut = join_reasoning("Step one, and", "", fmt, finished=False)
        assert split_thought(cut, fmt) == ("Step one, and", "", True)
    staged = "<SUMMARY>Plan.</SUMMARY><CONCLUSION>Done.</CONCLUSION>"
    assert split_thought(join_reasoning("Why.", staged, "llava_cot_stages"), "llava_cot_stages") == (
        "Plan.\n\nWhy.", "Done.", True)
    assert join_reasoning("", "<think>inline</think>answer", "think_tags") == "<think>inline</think>answer"
    assert join_reasoning("", "plain", "none") == "plain"
    with pytest.raises(ValueError, match="thought_format.*'none'.*think_tags"):
        join_reasoning("A thought.", "An answer.", "none")


# ---------------------------------------------------------------------------------- resume


def _generate_slowly(base_url: str, prompts: pd.DataFrame, out_path: str) -> None:
    """The child of the kill test: the whole run, one sample per batch."""
    api = OpenAIBackend(base_url, "served-thinker", DECODING, thought_format="think_tags", **FAST)
    generate.generate_responses(prompts, "thinker", "api", "think_tags", DECODING, Path(out_path), batch_size=1,
                                seed=2, log=lambda _: None, backend=api)


def test_a_killed_run_resumes_without_redoing_finished_samples(prompts, tmp_path):
    out_path = tmp_path / "responses" / "thinker.parquet"
    checkpoint = out_path.with_suffix(".partial")
    with ServedModel(PLAN, retry_after=0.05, delay_s=0.1) as server:
        child = multiprocessing.get_context("fork").Process(
            target=_generate_slowly, args=(server.base_url, prompts, str(out_path)))
        child.start()
        deadline = time.monotonic() + 30
        while len(list(checkpoint.glob("shard-*.parquet"))) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)  # no cleanup, as a cluster's scheduler or OOM killer would
        child.join()
        assert child.exitcode == -signal.SIGKILL and not out_path.exists()
        finished = keys(generate.load_checkpoint(checkpoint, "thinker"))
        assert 3 <= len(finished) < len(KEYS)
        before = len(server.answered)

        frame = generate.generate_responses(prompts, "thinker", "api", "think_tags", DECODING, out_path,
                                            batch_size=1, seed=2, log=lambda _: None, backend=backend(server))
        resumed = server.answered[before:]
    assert keys(frame) == KEYS and not checkpoint.exists()
    redone = {(text.split("\n")[-1], seed) for text, seed in resumed}
    for key in finished:  # none of the finished samples was asked for again
        request = next(r for r in generate.expand_requests(prompts) if (r.id, r.sample) == key)
        assert (request.prompt, request_seed(2 + KEYS.index(key), request)) not in redone
    assert len(resumed) == len(KEYS) - len(finished)
    # every row answers its own request with its batch's seed, whichever run made it
    for row, request in zip(frame.itertuples(), generate.expand_requests(prompts)):
        text = "\n".join(part for part in (request.system_prompt, request.prompt) if part)
        seed = request_seed(2 + KEYS.index((row.id, row.sample)), request)
        assert row.answer == ("" if row.id == "p/4" else f"Answer to [{text}] seed={seed}")


# ---------------------------------------------------------------------------------- registry


def demo_config() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
SERVED = {"backend": "openai", "base_url": "http://127.0.0.1:8000/v1", "model": "Qwen/QVQ-72B-Preview",
          "thought_format": "think_tags", "api_key_env": None, "max_concurrency": 4}


def with_model(entry: dict, name: str = "served") -> dict:
    config = demo_config()
    config["models"][name] = copy.deepcopy(entry)
    return config


def test_registry_entry_needs_no_weights_and_builds_the_backend(monkeypatch):
    config = validate_config(with_model(SERVED), SCHEMA)
    entry = config["models"]["served"]
    assert entry["weights"] == "api" and hub_manifest(config, "models.served") is None  # nothing to download
    assert weights_location(config, "served") == "api"
    settings = api_model_settings(config, "served")
    assert settings == {"base_url": "http://127.0.0.1:8000/v1", "model": "Qwen/QVQ-72B-Preview", "api_key_env": None,
                        "max_concurrency": 4, "timeout_s": 600.0, "thought_format": "think_tags",
                        "model_name": "served"}
    made = generate.make_backend("openai", "api", {"temperature": 0.0}, settings, threads=2)
    assert isinstance(made, OpenAIBackend) and made.client.url == "http://127.0.0.1:8000/v1/chat/completions"
    assert (made.model, made.max_concurrency, made.thought_format) == ("Qwen/QVQ-72B-Preview", 4, "think_tags")
    # the default key variable is read when the backend is built
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    default_key = api_model_settings(validate_config(with_model({**SERVED, "api_key_env": "OPENAI_API_KEY"}), SCHEMA),
                                     "served")
    with pytest.raises(EndpointError, match="OPENAI_API_KEY"):
        generate.make_backend("openai", "api", {}, default_key, threads=2)


@pytest.mark.parametrize(("entry", "message"), [
    ({k: v for k, v in SERVED.items() if k != "base_url"}, "'base_url' is a required property"),
    ({**SERVED, "weights": "hf:org/name"}, r"backend openai .* weights 'hf:org/name'"),
    ({"weights": "api"}, "weights 'api'.*set backend: openai"),
    ({"weights": "/models/local", "base_url": "http://127.0.0.1:1/v1"}, r"sets base_url.*only backend openai"),
    ({**SERVED, "base_url": "127.0.0.1:8000"}, "does not match"),
])
def test_registry_mistakes_are_named(entry, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(with_model(entry), SCHEMA)


def test_an_api_model_cannot_be_fine_tuned():
    config = with_model(SERVED)
    config.setdefault("sft", {})["models"] = ["served"]
    with pytest.raises(ConfigError, match="sft.models names served.*only models with local weights"):
        validate_config(config, SCHEMA)


def test_the_backend_runs_without_torch():
    """Its jobs run in envs/data.yaml, which has requests and no torch: the module must not need it."""
    data_env = (REPO / "envs/data.yaml").read_text()
    assert "requests==" in data_env and "torch" not in data_env
    probe = ("import sys; sys.modules['torch'] = None\n"  # any import of torch now fails
             "from think_in_safety.models.generate import make_backend\n"
             "b = make_backend('openai', 'api', {}, {'base_url': 'http://127.0.0.1:1/v1', 'model': 'm',"
             " 'api_key_env': None}, 1)\n"
             "print(type(b).__name__)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "OpenAIBackend"
