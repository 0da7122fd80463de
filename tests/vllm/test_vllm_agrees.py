"""The vLLM backend for real, on CPU (`make test-vllm`): vLLM cannot share an environment with
LLaMA-Factory (docs/stack.md), so this test runs in `.venv-vllm`. It takes a demo reasoner and its
greedy transformers-backend responses that the main environment produced (the Makefile target
runs the workflow for them first), generates the same samples with vLLM, and compares."""

import os
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.vllm

REPO = Path(__file__).resolve().parents[2]
MODEL = os.environ.get("TIS_VLLM_MODEL", "tiny-vl-a-think")
BENCHMARK = os.environ.get("TIS_VLLM_BENCHMARK", "figstep")


def test_vllm_greedy_outputs_agree_with_transformers(tmp_path):
    pytest.importorskip("vllm", reason="run `make test-vllm`: vLLM lives in its own environment")
    from think_in_safety.models.generate import generate_responses
    from think_in_safety.models.vllm_backend import VLLMBackend

    prompts = pd.read_parquet(REPO / f"results/prompts/{BENCHMARK}.parquet")
    reference = pd.read_parquet(REPO / f"results/responses/{MODEL}/{BENCHMARK}.parquet")
    decoding = {"temperature": 0.0, "max_new_tokens": 160}
    os.chdir(REPO)  # image paths are relative to the workflow root
    # on CPU this fraction reserves host memory for the KV cache: keep it small beside other work
    backend = VLLMBackend(
        f"resources/models/{MODEL}", decoding, max_model_len=2048,
        engine_options={"gpu_memory_utilization": 0.15},
    )
    ours = generate_responses(
        prompts, MODEL, f"resources/models/{MODEL}", "think_tags", decoding,
        tmp_path / "vllm.parquet", batch_size=8, backend=backend,
    )
    merged = ours.merge(reference, on=["id", "sample"], suffixes=("_vllm", "_hf"))
    assert len(merged) == len(reference)
    same_text = (merged["raw_vllm"] == merged["raw_hf"]).mean()
    same_prompt_tokens = (merged["prompt_tokens_vllm"] == merged["prompt_tokens_hf"]).mean()
    first_words = (merged["raw_vllm"].str[:40] == merged["raw_hf"].str[:40]).mean()
    print(f"vLLM vs transformers, greedy, {len(merged)} samples: identical text {same_text:.1%}, "
          f"same first 40 characters {first_words:.1%}, same prompt length {same_prompt_tokens:.1%}")
    assert same_prompt_tokens == 1.0  # both backends build the same prompt from the same template
    assert same_text >= 0.9
