"""vLLM for real, on CPU (`make test-vllm`): sampled responses do not depend on how the requests
are chunked, because every request carries its own seed (generation.chunk_size). A random tiny
Qwen2.5-VL built here; its answers are noise, which is all sampling needs."""

import os

import pandas as pd
import pytest
from PIL import Image

pytestmark = pytest.mark.vllm


def test_sampled_outputs_do_not_depend_on_the_chunk_size(tmp_path):
    pytest.importorskip("vllm", reason="run `make test-vllm`: vLLM lives in its own environment")
    from think_in_safety.models import chat_data, zoo
    from think_in_safety.models.generate import generate_responses
    from think_in_safety.models.vllm_backend import VLLMBackend

    model = str(zoo.build_tiny_qwen2_5_vl(tmp_path / "model", seed=0, corpus=chat_data.tokenizer_corpus(40, seed=0),
                                          vocab_size=512))
    Image.new("RGB", (56, 56), "orange").save(tmp_path / "image.png")
    prompts = pd.DataFrame({
        "id": [f"p{k}" for k in range(6)], "benchmark": ["x"] * 6,
        "prompt": [f"Tell me about thing {k}." for k in range(6)],
        "image_paths": [["image.png"] if k % 2 else [] for k in range(6)], "n_samples": [2, 1, 1, 2, 1, 1],
    })
    os.chdir(tmp_path)  # image paths are relative to the working directory, as in the workflow
    decoding = {"temperature": 1.0, "top_p": 0.95, "max_new_tokens": 12}
    backend = VLLMBackend(model, decoding, max_model_len=1024, chunk_size=3,
                          engine_options={"gpu_memory_utilization": 0.1})

    def run(name, seed=0):
        return generate_responses(prompts, "tiny", model, "none", decoding, tmp_path / name, seed=seed,
                                  log=lambda _: None, backend=backend)["raw"].tolist()

    chunked = run("chunked.parquet")
    backend.chunk_size = None
    whole = run("whole.parquet")
    print(f"{sum(a == b for a, b in zip(chunked, whole))} of {len(whole)} sampled responses identical")
    assert chunked == whole
    assert len(set(whole)) > len(whole) // 2  # sampled noise: the two samples of a prompt differ too
    assert run("reseeded.parquet", seed=1) != whole
