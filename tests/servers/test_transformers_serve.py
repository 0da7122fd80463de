"""The endpoint judge against a real model server: ``transformers serve`` on 127.0.0.1 serving a
tiny random-init Qwen2.5-VL built by the model zoo (its replies are noise, so most rows are
``unparsed``; what is tested is the real OpenAI-compatible wire protocol, images as data URLs
included, the audit columns and the cache).

``transformers serve`` needs the ``openai`` package (``pip install 'transformers[serving]'``),
which the project's environment does not install; the test is skipped without it. Point
``TIS_SERVE_PYTHON`` at a Python whose environment has it to run the test anyway."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
import requests
from PIL import Image

from think_in_safety.judges import make_judge
from think_in_safety.models import chat_data, zoo

from tests.judge_rows import figstep_tables, prompt_row, response_row, tables

SERVE_PYTHON = os.environ.get("TIS_SERVE_PYTHON", sys.executable)
START_TIMEOUT_S = 180


def serving_available() -> bool:
    probe = subprocess.run([SERVE_PYTHON, "-c", "import openai, transformers.cli.serving"], capture_output=True)
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(
    not serving_available(),
    reason="transformers serve needs the openai package (pip install 'transformers[serving]'); "
           "or set TIS_SERVE_PYTHON to a Python that has it",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    zoo.build_tokenizer(chat_data.tokenizer_corpus(40, seed=0), root / "tok", vocab_size=512)
    zoo.build_tiny_model(root / "tok", root / "model", seed=0)
    port = free_port()
    log = open(root / "serve.log", "w")
    server = subprocess.Popen(
        [SERVE_PYTHON, "-m", "transformers.cli.transformers", "serve", str(root / "model"), "--host", "127.0.0.1",
         "--port", str(port), "--device", "cpu"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"transformers serve did not start:\n{(root / 'serve.log').read_text()[-3000:]}")
            time.sleep(1)
        yield f"http://127.0.0.1:{port}/v1", str(root / "model")
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_endpoint_judge_on_transformers_serve(served_model, tmp_path, monkeypatch):
    base_url, model = served_model
    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (40, 40), "orange").save("scene.png")
    spec = {"backend": "openai_compatible", "base_url": base_url, "model": model, "api_key_env": None,
            "max_tokens": 12, "max_concurrency": 2, "timeout_s": 60, "cache": str(tmp_path / "cache.sqlite"),
            "max_error_fraction": 0.0}
    judge = make_judge("served", spec)

    figstep = judge.judge(*figstep_tables(3), "figstep")
    siuo = judge.judge(*tables(
        [prompt_row("siuo/1", "siuo", judge_rubric="siuo", image_paths=["scene.png"], safety_warning="w",
                    reference_answer="r")], [response_row("siuo/1", "Be careful.")]), "siuo")
    mss = judge.judge(*tables([prompt_row("m/1", "mssbench", judge_rubric="chat", image_context="safe")],
                              [response_row("m/1", "Try a warm-up first.")]), "mssbench")
    for judged in (figstep, siuo, mss):
        assert judged["status"].isin(["ok", "unparsed"]).all(), judged["rationale"].tolist()
        assert (judged["judge_calls"] >= 1).all() and judged["judge_output"].map(lambda r: isinstance(r, str)).all()
    assert siuo.loc[0, "judge"] == f"served:{model}:siuo-judge-v2"

    again = make_judge("served", spec)
    rerun = again.judge(*figstep_tables(3), "figstep")
    assert again.stats.requests == 0 and again.stats.cache_hits == 3
    assert rerun["judge_output"].tolist() == figstep["judge_output"].tolist()
