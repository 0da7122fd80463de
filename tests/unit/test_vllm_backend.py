"""The vLLM backend's pure parts; the engine itself runs in `make test-vllm` (its own env)."""

from think_in_safety.models.vllm_backend import sampling_settings


def test_greedy_when_temperature_is_zero():
    params = sampling_settings({"temperature": 0.0, "top_p": 0.5, "max_new_tokens": 12}, seed=3)
    assert params == {"max_tokens": 12, "seed": 3, "temperature": 0.0, "top_p": 1.0}


def test_sampling_settings_carry_over():
    params = sampling_settings({"temperature": 0.6, "top_p": 0.9, "max_new_tokens": 2048, "top_k": 5}, seed=0)
    assert params["temperature"] == 0.6 and params["top_p"] == 0.9
    assert params["max_tokens"] == 2048 and params["top_k"] == 5
