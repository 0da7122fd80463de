"""Per-model options of the registry: system prompt and prompt template (applied when requests
are built and recorded in every response row), trust_remote_code (transformers and vLLM) and vLLM
engine options, and their config checks."""

import copy
import json
import shutil
import sys
import types

import pandas as pd
import pytest
import yaml

from think_in_safety.config import (
    ConfigError,
    model_prompting,
    validate_config,
    vllm_model_options,
)
from think_in_safety.models import generate
from think_in_safety.models.generate import Prompting, expand_requests

from ..conftest import REPO

SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
TEMPLATE = "{prompt} Output the thinking process in <think> </think> and final answer in <answer> </answer>."


@pytest.fixture()
def prompts():
    return pd.DataFrame({
        "id": ["b/1", "b/2"], "benchmark": ["b", "b"], "prompt": ["How do I pick a lock?", "What is shown?"],
        "image_paths": [["img.png"], []], "system_prompt": ["", "Answer in one sentence."], "n_samples": [2, 1],
    })


def test_requests_carry_the_model_prompting(prompts):
    prompting = Prompting("You are a careful assistant.", TEMPLATE)
    requests = expand_requests(prompts, prompting)
    assert [(r.id, r.sample) for r in requests] == [("b/1", 0), ("b/1", 1), ("b/2", 0)]
    first, _, second = requests
    assert first.prompt == ("How do I pick a lock? Output the thinking process in <think> </think> and final answer "
                            "in <answer> </answer>.")
    # the model's system prompt alone, or the model's then the benchmark's
    assert first.system_prompt == "You are a careful assistant."
    assert second.system_prompt == "You are a careful assistant.\n\nAnswer in one sentence."
    assert first.messages()[0] == {"role": "system", "content": "You are a careful assistant."}
    # without prompting (or with its empty keywords) the benchmark's prompts go out as they are
    for plain in (expand_requests(prompts), expand_requests(prompts, {"system_prompt": "", "prompt_template": None})):
        assert [(r.system_prompt, r.prompt) for r in plain] == [
            ("", "How do I pick a lock?"), ("", "How do I pick a lock?"), ("Answer in one sentence.", "What is shown?")]


def test_template_braces_are_escaped_as_in_str_format():
    template = "{prompt}The final answer MUST BE put in \\boxed{{}}."
    assert Prompting(prompt_template=template).user("2+2?") == "2+2?The final answer MUST BE put in \\boxed{}."


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("Answer this.", r"exactly one field, \{prompt\} \(it has \[\]\)"),
        ("{question}", r"it has \['question'\]"),
        ("{prompt} in \\boxed{}", r"it has \['', 'prompt'\]"),
        ("{prompt} {", "not a str.format template"),
    ],
)
def test_bad_templates_name_the_fix(template, message):
    with pytest.raises(ValueError, match=message):
        Prompting(prompt_template=template)


class EchoBackend:
    """Answers with a thought and records what it was sent."""

    def __init__(self):
        self.seen = []

    def generate(self, batch, seed):
        self.seen.extend(batch)
        return [generate.Output("<think>ok</think>fine", 5, 4, True) for _ in batch]

    def count_tokens(self, text):
        return len(text.split())


def test_every_response_row_records_what_was_sent(tmp_path, prompts):
    backend = EchoBackend()
    frame = generate.generate_responses(
        prompts, "m", "unused", "think_tags", {}, tmp_path / "r.parquet", log=lambda _: None, backend=backend,
        prompting={"system_prompt": "Think first.", "prompt_template": "Q: {prompt}"},
    )
    assert [r.prompt for r in backend.seen] == ["Q: How do I pick a lock?"] * 2 + ["Q: What is shown?"]
    sent = [json.loads(value) for value in frame["prompting"]]
    assert sent == [{"system": "Think first.", "user": "Q: How do I pick a lock?"}] * 2 + [
        {"system": "Think first.\n\nAnswer in one sentence.", "user": "Q: What is shown?"}]
    assert frame["thought"].eq("ok").all() and frame["answer"].eq("fine").all()
    assert pd.read_parquet(tmp_path / "r.parquet")["prompting"].tolist() == frame["prompting"].tolist()


def test_generation_splits_with_an_inline_thought_format(tmp_path, prompts):
    class Bracketed(EchoBackend):
        def generate(self, batch, seed):
            return [generate.Output("[T]look[/T] Answer: no", 5, 4, True) for _ in batch]

    fmt = {"thought_open": "[T]", "thought_close": "[/T]", "final_answer": "Answer:"}
    frame = generate.generate_responses(prompts, "m", "unused", fmt, {}, tmp_path / "r.parquet",
                                        log=lambda _: None, backend=Bracketed())
    assert frame[["thought", "answer", "has_thought"]].drop_duplicates().values.tolist() == [["look", "no", True]]


# ------------------------------------------------------------------------ trust_remote_code

MARKED_MODEL = '''
from transformers import Qwen2_5_VLForConditionalGeneration


class MarkedModel(Qwen2_5_VLForConditionalGeneration):
    """The repository's own model code: loaded only when its code is trusted."""

    shipped_by_the_repository = True
'''


def test_transformers_backend_runs_the_repository_code_only_when_trusted(tmp_path, tiny_model):
    """A copy of the tiny model whose config maps the image-text auto class to code in the
    folder, as hub repositories with their own architecture do (Kimi-VL's modeling_kimi_vl.py)."""
    model_dir = tmp_path / "remote-model"
    shutil.copytree(tiny_model, model_dir)
    (model_dir / "modeling_marked.py").write_text(MARKED_MODEL)
    config = json.loads((model_dir / "config.json").read_text())
    config["auto_map"] = {"AutoModelForImageTextToText": "modeling_marked.MarkedModel"}
    (model_dir / "config.json").write_text(json.dumps(config))

    trusted = generate.TransformersBackend(str(model_dir), {}, device="cpu", trust_remote_code=True)
    assert type(trusted.model).__name__ == "MarkedModel" and trusted.model.shipped_by_the_repository
    untrusted = generate.TransformersBackend(str(model_dir), {}, device="cpu")
    assert type(untrusted.model).__name__ == "Qwen2_5_VLForConditionalGeneration"


def test_vllm_backend_passes_remote_code_and_engine_options(monkeypatch, tiny_model):
    """vLLM is not installed here (its own environment): a stand-in vllm module records the
    keywords the engine is built with; the processor is the tiny model's real one."""
    built = {}

    class LLM:
        def __init__(self, **options):
            built.update(options)

    monkeypatch.setitem(sys.modules, "vllm", types.SimpleNamespace(LLM=LLM))
    import transformers

    processor_kwargs = {}
    real = transformers.AutoProcessor.from_pretrained

    def recording(path, **kwargs):
        processor_kwargs.update(kwargs)
        return real(path, **kwargs)

    monkeypatch.setattr(transformers.AutoProcessor, "from_pretrained", recording)
    from think_in_safety.models.vllm_backend import VLLMBackend

    config = validate_config(yaml.safe_load((REPO / "config/paper.yaml").read_text()), SCHEMA)
    options = vllm_model_options(config, "kimi-vl-a3b-thinking")
    assert options == {"trust_remote_code": True, "engine_options": {"max_model_len": 16384}}
    VLLMBackend(tiny_model, {}, tensor_parallel_size=1, **options)
    assert built["trust_remote_code"] is True and built["max_model_len"] == 16384
    assert built["model"] == tiny_model and built["limit_mm_per_prompt"] == {"image": 1}
    assert processor_kwargs == {"trust_remote_code": True}
    built.clear()
    VLLMBackend(tiny_model, {}, engine_options={"gpu_memory_utilization": 0.8, "dtype": "bfloat16"})
    assert built["trust_remote_code"] is False
    assert (built["gpu_memory_utilization"], built["dtype"]) == (0.8, "bfloat16")


# ---------------------------------------------------------------------------- config checks


def paper():
    return yaml.safe_load((REPO / "config/paper.yaml").read_text())


def test_paper_models_carry_their_authors_prompting():
    config = validate_config(paper(), SCHEMA)
    models = config["models"]
    reasoners = [name for name, m in models.items() if m["base"]]
    assert len(reasoners) >= 11 and all(models[m]["base"] in models for m in reasoners)
    assert {m for m in models if models[m]["verified"]} >= {"r1-onevision-7b", "llava-cot-11b"}
    assert all(models[m]["notes"] for m in models if not models[m]["verified"])
    assert "<answer> </answer>" in model_prompting(config, "vlaa-thinker-7b")["system_prompt"]
    mulberry = Prompting(**model_prompting(config, "mulberry-7b"))
    assert mulberry.user("Q?").endswith("### The final answer is: \n\nQ?")
    assert model_prompting(config, "r1-onevision-7b") == {"system_prompt": "", "prompt_template": None}
    # the template formats, and every hub model is pinned or marked as a placeholder
    for name, entry in models.items():
        Prompting(**model_prompting(config, name)).user("x")
        assert len(entry["revision"]) == 40
    # models outside the two fine-tuning families are never fine-tuned
    assert all(models[m]["chat_template"] in ("qwen2_vl", "mllama") for m in config["sft"]["models"])


def _broken(path, value):
    config = paper()
    *keys, last = path
    node = config
    for key in keys:
        node = node[key]
    node[last] = value
    return config


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("models", "qvq-72b-preview", "engine", "tensor_parallel_size"), 2,
         "engine.tensor_parallel_size is 2 but the job gets gpus: 4"),
        (("models", "qvq-72b-preview", "engine", "trust_remote_code"), True, "set by the registry"),
        (("models", "qvq-72b-preview", "max_model_len"), 8192, "keep one of them"),
        (("models", "qvq-72b-preview", "engine", "limit_mm_per_prompt"), {"image": 4}, "set max_images: 4"),
        (("models", "mulberry-7b", "prompt_template"), "{question}", r"models.mulberry-7b.prompt_template"),
        (("models", "mulberry-7b", "thought_format"), {"thought_open": "<t>"}, "has no thought_close"),
        (("models", "mulberry-7b", "thought_format"), {"thought_close": "</t>", "colour": 1}, "thought_format"),
        (("models", "mulberry-7b", "thought_format"), "mulberry", "thought_format"),
    ],
)
def test_inconsistent_model_options_are_refused(path, value, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(_broken(path, value), SCHEMA)


def test_trust_remote_code_is_refused_for_a_model_behind_an_api():
    config = paper()
    config["models"]["served"] = {"backend": "openai", "base_url": "http://127.0.0.1:8000/v1", "model": "m",
                                  "trust_remote_code": True}
    with pytest.raises(ConfigError, match="runs no local model code"):
        validate_config(copy.deepcopy(config), SCHEMA)
