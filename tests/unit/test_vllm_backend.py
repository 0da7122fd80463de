"""The vLLM backend's pure parts and its wiring into generate_responses against a stand-in
engine; the engine itself runs in `make test-vllm` (its own env)."""

import sys
from types import ModuleType, SimpleNamespace

import pandas as pd
import pytest

from think_in_safety.models import generate
from think_in_safety.models.vllm_backend import VLLMBackend, sampling_settings


def test_greedy_when_temperature_is_zero():
    params = sampling_settings({"temperature": 0.0, "top_p": 0.5, "max_new_tokens": 12}, seed=3)
    assert params == {"max_tokens": 12, "seed": 3, "temperature": 0.0, "top_p": 1.0}


def test_sampling_settings_carry_over():
    params = sampling_settings({"temperature": 0.6, "top_p": 0.9, "max_new_tokens": 2048, "top_k": 5}, seed=0)
    assert params["temperature"] == 0.6 and params["top_p"] == 0.9
    assert params["max_tokens"] == 2048 and params["top_k"] == 5


class StandInEngine:
    """Stands in for ``vllm.LLM`` (vLLM lives in its own environment; the real engine runs in
    `make test-vllm`): records the calls and answers with the seed each request was given."""

    def __init__(self, **options):
        self.options, self.calls = options, []

    def generate(self, prompts, params, use_tqdm=True):
        assert isinstance(params, list) and len(params) == len(prompts)  # one SamplingParams per request
        self.calls.append(params)
        return [SimpleNamespace(prompt_token_ids=[1, 2], outputs=[SimpleNamespace(
            text=f"seed {p.kwargs['seed']}", token_ids=[7] * 3, finish_reason="stop")]) for p in params]


@pytest.fixture()
def stand_in_vllm(monkeypatch):
    module = ModuleType("vllm")
    module.LLM = StandInEngine
    module.SamplingParams = lambda **kwargs: SimpleNamespace(kwargs=kwargs)
    monkeypatch.setitem(sys.modules, "vllm", module)


def test_backend_asks_for_chunks_and_seeds_each_request(tmp_path, tiny_model, stand_in_vllm):
    prompts = pd.DataFrame({"id": ["a", "b", "c"], "benchmark": ["x"] * 3, "prompt": ["one", "two", "three"],
                            "image_paths": [[], [], []], "n_samples": [2, 1, 2]})
    decoding = {"temperature": 0.7, "top_p": 0.9, "max_new_tokens": 5}
    backend = VLLMBackend(tiny_model, decoding, tensor_parallel_size=2, chunk_size=2)
    assert backend.engine.options["tensor_parallel_size"] == 2
    assert backend.preferred_chunk == 2 and backend.seeds_per_request

    def run(name, seed=4):
        return generate.generate_responses(prompts, "m", tiny_model, "none", decoding, tmp_path / name,
                                           batch_size=16, seed=seed, log=lambda _: None, backend=backend)

    chunked = run("chunked.parquet")
    assert [len(call) for call in backend.engine.calls] == [2, 2, 1]  # chunk_size, not batch_size
    first = backend.engine.calls[0][0].kwargs
    assert {key: first[key] for key in ("temperature", "top_p", "max_tokens")} == {
        "temperature": 0.7, "top_p": 0.9, "max_tokens": 5}
    expected = [f"seed {generate.request_seed(4, r)}" for r in generate.expand_requests(prompts)]
    assert chunked["raw"].tolist() == expected and len(set(expected)) == 5

    backend.chunk_size, backend.engine.calls = None, []  # every sample in one call: the same seeds
    assert run("whole.parquet")["raw"].tolist() == expected
    assert [len(call) for call in backend.engine.calls] == [5]
    assert run("other.parquet", seed=5)["raw"].tolist() != expected
