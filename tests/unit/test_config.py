"""Config validation: defaults are filled, mistakes are named with their key."""

import copy

import pytest
import yaml

from think_in_safety.config import (
    ConfigError,
    api_keys_needed,
    check_api_keys,
    model_decoding,
    reasoning_pairs,
    validate_config,
    weights_location,
)

from ..conftest import REPO

SCHEMA = REPO / "workflow/schemas/config.schema.yaml"


def load(name):
    return yaml.safe_load((REPO / "config" / name).read_text())


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml"])
def test_shipped_configs_validate(name):
    config = validate_config(load(name), SCHEMA)
    assert config["judges"]["rule"] == {"backend": "rule", "judge_target": "answer", "empty_answer": "raw"}
    # the demo scores offline with the rule judge; the real study with each benchmark's official
    # protocol on a dated LLM judge (the rule judge an explicit choice there)
    expected = "rule" if name == "config.yaml" else "gpt4o"
    for benchmark in config["benchmarks"].values():
        assert benchmark["judge"] == expected
    if name == "paper.yaml":
        assert config["judges"]["gpt4o"]["model"] == "gpt-4o-2024-08-06"
    assert reasoning_pairs(config)


def test_defaults_are_filled_in_registry_entries():
    config = validate_config(load("config.yaml"), SCHEMA)
    model = config["models"]["tiny-vl-a"]
    assert model["chat_template"] == "qwen2_vl"
    assert model["gpus"] == 0
    assert model["build"]["init_seed"] == 1
    assert config["benchmarks"]["siuo"]["options"] == {}
    assert config["generation"]["decoding"]["max_new_tokens"] == 160


def test_model_decoding_overrides_only_what_it_names():
    config = validate_config(load("paper.yaml"), SCHEMA)
    assert model_decoding(config, "llava-cot-11b") == {
        "temperature": 0.6,
        "top_p": 0.9,
        "max_new_tokens": 2048,
    }
    assert model_decoding(config, "qwen2.5-vl-7b")["temperature"] == 0.0
    # hub weights load from their local copy at the pinned commit (download_model writes it)
    revision = config["models"]["qwen2.5-vl-7b"]["revision"]
    assert weights_location(config, "qwen2.5-vl-7b") == f"resources/hub/Qwen/Qwen2.5-VL-7B-Instruct/{revision}"


def test_unknown_key_is_named():
    config = load("config.yaml")
    config["models"]["tiny-vl-a"]["thoght_format"] = "none"
    with pytest.raises(ConfigError, match=r"models\.tiny-vl-a.*thoght_format"):
        validate_config(config, SCHEMA)


def test_bad_enum_and_unknown_benchmark_are_named():
    config = load("config.yaml")
    config["models"]["tiny-vl-a"]["thought_format"] = "tags"
    config["benchmarks"]["safebench"] = {"source": "demo"}
    with pytest.raises(ConfigError) as error:
        validate_config(config, SCHEMA)
    assert "thought_format" in str(error.value)
    assert "safebench" in str(error.value)


def test_dangling_base_and_judge_are_reported():
    config = load("config.yaml")
    config["models"]["tiny-vl-a-think"]["base"] = "tiny-vl-z"
    with pytest.raises(ConfigError, match="tiny-vl-z"):
        validate_config(copy.deepcopy(config), SCHEMA)
    config = load("config.yaml")
    config["benchmarks"]["figstep"]["judge"] = "gpt-judge"
    with pytest.raises(ConfigError, match="gpt-judge"):
        validate_config(config, SCHEMA)


def test_backend_and_resources_come_from_the_registry():
    from think_in_safety.config import model_backend
    from think_in_safety.resources import generation_resources

    config = validate_config(load("paper.yaml"), SCHEMA)
    assert model_backend(config, "r1-onevision-7b") == "vllm"
    assert model_backend(config, "llava-cot-11b") == "transformers"  # vLLM has no Mllama
    assert generation_resources(config, "r1-onevision-7b") == {"mem_mb": 22528, "runtime": 130, "gpu": 1}
    demo = validate_config(load("config.yaml"), SCHEMA)
    assert model_backend(demo, "tiny-vl-a") == "transformers"
    assert generation_resources(demo, "tiny-vl-a") == {"mem_mb": 4000, "runtime": 60, "gpu": 0}


def test_generation_threads_one_for_a_tiny_cpu_model():
    from think_in_safety.resources import generation_threads

    demo = validate_config(load("config.yaml"), SCHEMA)
    assert {generation_threads(demo, model) for model in demo["models"]} == {1}  # two jobs side by side
    paper = validate_config(load("paper.yaml"), SCHEMA)
    assert {generation_threads(paper, model) for model in paper["models"]} == {2}
    demo["models"]["tiny-vl-a"]["size_b"] = 2.0  # a real model on CPU
    assert generation_threads(demo, "tiny-vl-a") == 2


def test_job_resources_follow_the_backend_and_size():
    from think_in_safety.resources import judge_resources, sft_resources, tis_stage_resources

    config = validate_config(load("paper.yaml"), SCHEMA)
    config["judges"]["local-7b"] = {"backend": "transformers", "model": "/models/q", "gpus": 1, "size_b": 7}
    config["judges"]["gpt"] = {"backend": "openai_compatible", "base_url": "http://h/v1", "model": "m"}
    config = validate_config(config, SCHEMA)
    assert judge_resources(config, "local-7b") == {"mem_mb": 22528, "runtime": 130, "gpu": 1}
    assert judge_resources(config, "gpt")["gpu"] == 0 and judge_resources(config, "gpt")["runtime"] >= 240
    assert judge_resources(config, "rule") == {"mem_mb": 2000, "runtime": 15, "gpu": 0}
    assert tis_stage_resources({"backend": "transformers", "gpus": 2})["gpu"] == 2
    assert tis_stage_resources({"backend": "template"})["gpu"] == 0
    tuned = sft_resources(config, "r1-onevision-7b")
    assert tuned["gpu"] == config["sft"]["gpus"] >= 1 and tuned["mem_mb"] >= 64000
    demo = validate_config(load("config.yaml"), SCHEMA)
    assert sft_resources(demo, "tiny-vl-a-think") == {"mem_mb": 4000, "runtime": 60, "gpu": 0}


def test_missing_api_keys_are_named_before_any_job():
    config = validate_config(load("paper.yaml"), SCHEMA)
    needed = api_keys_needed(config)
    assert needed == {"OPENAI_API_KEY": ["judges.gpt4o", "tis.captioner"], "DEEPSEEK_API_KEY": ["tis.writer"]}
    with pytest.raises(ConfigError, match=r"DEEPSEEK_API_KEY \(for tis.writer\)") as error:
        check_api_keys(config, environ={"OPENAI_API_KEY": "sk-test"})
    assert "OPENAI_API_KEY" not in str(error.value).split("\nExport")[0]
    check_api_keys(config, environ={"OPENAI_API_KEY": "sk-test", "DEEPSEEK_API_KEY": "sk-test"})
    # the embedded default calls no endpoint
    assert api_keys_needed(validate_config(load("config.yaml"), SCHEMA)) == {}
