"""think_in_safety.models.tuning: the LLaMA-Factory config, the CLI wrapper, output completion."""

import json
import os
import stat
import sys
from pathlib import Path

import pytest
import yaml

from think_in_safety.models import tuning


def _config(**hyper):
    return tuning.llamafactory_config("/m/base", "/d/chat", "chat_direct", "/out/tuned", "qwen2_vl", hyper)


def test_cpu_full_defaults():
    config = _config()
    assert config["model_name_or_path"] == "/m/base"
    assert (config["stage"], config["do_train"], config["finetuning_type"]) == ("sft", True, "full")
    assert (config["dataset"], config["dataset_dir"], config["template"]) == ("chat_direct", "/d/chat", "qwen2_vl")
    assert config["output_dir"] == "/out/tuned" and config["overwrite_output_dir"] is True
    assert config["save_strategy"] == "no" and config["save_only_model"] is True
    assert config["bf16"] is False and config["fp16"] is False and config["report_to"] == "none"
    assert config["disable_gradient_checkpointing"] is True
    assert config["preprocessing_num_workers"] == 1 and config["dataloader_num_workers"] == 0
    assert config["freeze_vision_tower"] is False
    assert config["max_steps"] == tuning.HYPER_DEFAULTS["max_steps"] and "num_train_epochs" not in config
    assert config["learning_rate"] == tuning.HYPER_DEFAULTS["learning_rate"]
    assert config["seed"] == 0 and config["cutoff_len"] == tuning.HYPER_DEFAULTS["cutoff_len"]
    assert "lora_rank" not in config
    yaml.safe_load(yaml.safe_dump(config))  # plain YAML types only


def test_hyper_overrides_and_gpu():
    config = _config(
        max_steps=300,
        learning_rate=1e-5,
        per_device_train_batch_size=2,
        seed=5,
        device="cuda",
        extra={"gradient_checkpointing": True, "deepspeed": "ds.json"},
    )
    assert config["max_steps"] == 300 and "num_train_epochs" not in config
    assert _config(max_steps=None, num_train_epochs=2)["num_train_epochs"] == 2.0
    assert (config["learning_rate"], config["per_device_train_batch_size"], config["seed"]) == (1e-5, 2, 5)
    assert config["bf16"] is True and "disable_gradient_checkpointing" not in config
    assert config["deepspeed"] == "ds.json" and config["gradient_checkpointing"] is True


def test_lora_writes_adapter_below_output():
    config = _config(finetuning_type="lora", lora_rank=4)
    assert config["finetuning_type"] == "lora" and config["lora_rank"] == 4 and config["lora_target"] == "all"
    assert config["output_dir"] == os.path.join("/out/tuned", tuning.LORA_ADAPTER_SUBDIR)


@pytest.mark.parametrize("hyper", [{"learnign_rate": 1.0}, {"finetuning_type": "freeze"}])
def test_bad_hyper(hyper):
    with pytest.raises(ValueError):
        _config(**hyper)


def _fake_cli(tmp_path, body):
    script = tmp_path / "fake-llamafactory-cli"
    script.write_text(f"#!{sys.executable}\nimport sys, os\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_run_failure_raises_with_log_tail(tmp_path, monkeypatch):
    body = "print('loading'); print('ValueError: dataset chat_x not found', flush=True); sys.exit(3)"
    monkeypatch.setattr(tuning, "_cli", lambda: _fake_cli(tmp_path, body))
    config = _config()
    with pytest.raises(RuntimeError, match="exit 3") as error:
        tuning.run_llamafactory(config, tmp_path / "cfg" / "train.yaml", tmp_path / "logs" / "train.log")
    assert "dataset chat_x not found" in str(error.value)
    assert yaml.safe_load((tmp_path / "cfg" / "train.yaml").read_text()) == config
    log = (tmp_path / "logs" / "train.log").read_text()
    assert "llamafactory-cli train" in log and "loading" in log


def test_run_passes_offline_environment(tmp_path, monkeypatch):
    body = "assert os.environ['HF_HUB_OFFLINE'] == '1' and os.environ['DISABLE_VERSION_CHECK'] == '1'; sys.exit(1)"
    monkeypatch.setattr(tuning, "_cli", lambda: _fake_cli(tmp_path, body))
    with pytest.raises(RuntimeError) as error:
        tuning.run_llamafactory(_config(), tmp_path / "t.yaml", tmp_path / "t.log")
    assert "AssertionError" not in str(error.value)


def test_complete_model_dir_copies_only_missing(tmp_path):
    source, target = tmp_path / "src", tmp_path / "dst"
    source.mkdir(), target.mkdir()
    for name in ("tokenizer.json", "chat_template.jinja", "processor_config.json", "model.safetensors"):
        (source / name).write_text(f"source {name}")
    (target / "tokenizer.json").write_text("trained")
    copied = tuning.complete_model_dir(source, target)
    assert sorted(copied) == ["chat_template.jinja", "processor_config.json"]
    assert (target / "tokenizer.json").read_text() == "trained"
    assert not (target / "model.safetensors").exists()


def _readable(text, vocabulary):
    """Share of the words of ``text`` that occur in the tuning data."""
    words = [word.strip(".,:;!?\"'()").lower() for word in text.split()]
    words = [word for word in words if word and not word.isdigit()]
    return sum(word in vocabulary for word in words) / max(len(words), 1)


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("TIS_SLOW_TESTS") != "1", reason="real LLaMA-Factory tuning (~2 min); TIS_SLOW_TESTS=1"
)
def test_real_tuning_makes_a_talking_base_and_a_thinking_reasoner(tmp_path):
    """Tokenizer + tiny model -> base tuned on 'direct' -> reasoner tuned from it on 'think_tags'."""
    import pandas as pd

    from think_in_safety.models import chat_data, generate, zoo

    corpus = chat_data.tokenizer_corpus(400, seed=0)
    vocabulary = {w.strip(".,:;!?\"'()").lower() for text in corpus for w in text.split()}
    zoo.build_tokenizer(corpus, tmp_path / "tok")
    zoo.build_tiny_model(tmp_path / "tok", tmp_path / "random", seed=0)
    start, steps = tmp_path / "random", {"direct": 400, "think_tags": 300}
    for style in ("direct", "think_tags"):
        chat_data.write_chat_data(tmp_path / f"data_{style}", style, 400, seed=0)
        config = tuning.llamafactory_config(
            start,
            tmp_path / f"data_{style}",
            f"chat_{style}",
            tmp_path / style,
            "qwen2_vl",
            {"max_steps": steps[style]},
        )
        tuning.run_llamafactory(config, tmp_path / f"{style}.yaml", tmp_path / f"{style}.log")
        start = tmp_path / style  # the reasoner starts from the tuned base: a second round from its output

    chat_data.write_chat_data(tmp_path / "held_out", "direct", 6, seed=999)
    records = json.loads((tmp_path / "held_out" / "data.json").read_text())
    prompts = pd.DataFrame(
        {
            "id": [f"held_out/{i}" for i in range(len(records))],
            "prompt": [r["conversations"][0]["value"].removeprefix("<image>") for r in records],
            "image_paths": [[str(tmp_path / "held_out" / r["images"][0])] for r in records],
            "n_samples": 1,
        }
    )
    decoding = {"max_new_tokens": 160, "temperature": 0}
    base = generate.generate_responses(
        prompts, "base", str(tmp_path / "direct"), "none", decoding, tmp_path / "b.parquet"
    )
    reasoner = generate.generate_responses(
        prompts, "reasoner", str(tmp_path / "think_tags"), "think_tags", decoding, tmp_path / "r.parquet"
    )
    assert base["finished"].all() and not base["has_thought"].any()
    assert all(_readable(text, vocabulary) > 0.8 for text in base["answer"])
    assert reasoner["raw"].str.startswith("<think>").all()
    assert (reasoner["has_thought"] & (reasoner["answer"] != "")).sum() >= 5
    assert all(_readable(text, vocabulary) > 0.8 for text in reasoner["thought"])


def test_real_lora_run_is_merged_into_a_loadable_model(tmp_path, tiny_model):
    """LoRA through llamafactory-cli train, merged by llamafactory-cli export: the output is a full
    model that loads, and its weights moved away from the start model's (a few steps, CPU)."""
    import torch
    from safetensors.torch import load_file

    from think_in_safety.models import chat_data

    start_dir = Path(tiny_model)
    chat_data.write_chat_data(tmp_path / "data", "think_tags", 16, seed=0)
    config = tuning.llamafactory_config(
        start_dir, tmp_path / "data", "chat_think_tags", tmp_path / "tuned", "qwen2_vl",
        {"finetuning_type": "lora", "lora_rank": 4, "max_steps": 3, "learning_rate": 0.01,
         "per_device_train_batch_size": 4},
    )
    tuning.run_llamafactory(config, tmp_path / "train.yaml", tmp_path / "train.log")
    assert (tmp_path / "tuned" / tuning.LORA_ADAPTER_SUBDIR / "adapter_config.json").is_file()
    start = load_file(start_dir / "model.safetensors")
    merged = {}
    for path in (tmp_path / "tuned").glob("*.safetensors"):
        merged.update(load_file(path))
    shared = [name for name in start if name in merged and start[name].dim() == 2 and "proj" in name]
    assert shared, "no projection weights in common"
    moved = [name for name in shared if not torch.equal(start[name], merged[name].to(start[name].dtype))]
    assert moved, "the merged model has the start model's weights: the adapter was not merged"
    assert "export" in (tmp_path / "train.log").read_text()
    from transformers import AutoModelForImageTextToText, AutoProcessor

    AutoProcessor.from_pretrained(tmp_path / "tuned")  # what the next job, generation, loads
    AutoModelForImageTextToText.from_pretrained(tmp_path / "tuned")


def _copy_model(source, target):
    import shutil

    shutil.copytree(source, target)
    return target


def test_check_model_dir_passes_a_real_model_folder(tmp_path, tiny_model):
    tuning.check_model_dir(_copy_model(tiny_model, tmp_path / "m"))


@pytest.mark.parametrize(("damage", "message"), [
    (lambda m: (m / "model.safetensors").write_bytes((m / "model.safetensors").read_bytes()[:-10]),
     "truncated or was written by an interrupted save"),
    (lambda m: (m / "model.safetensors").write_bytes(b"\x00" * 16), "not a readable safetensors file"),
    (lambda m: (m / "model.safetensors").unlink(), "holds no model weights"),
    (lambda m: (m / "config.json").write_text("{\"model_type\": "), "is not readable JSON"),
    (lambda m: (m / "config.json").write_text("{}"), "no config.json naming a model_type"),
    (lambda m: (m / "tokenizer.json").unlink(), "holds no tokenizer"),
    (lambda m: (m / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"a.weight": "model-00002-of-00002.safetensors"}})),
     r"names weight files that are not there: \['model-00002-of-00002.safetensors'\]"),
], ids=["truncated", "garbage", "no-weights", "broken-json", "no-model-type", "no-tokenizer", "index"])
def test_check_model_dir_names_what_is_broken(tmp_path, tiny_model, damage, message):
    model = _copy_model(tiny_model, tmp_path / "m")
    damage(model)
    with pytest.raises(RuntimeError, match=message):
        tuning.check_model_dir(model)


def test_cpu_runs_size_their_thread_pools():
    """A CPU tuning job of N threads caps torch's OpenMP/MKL pools at N (else each takes every core)."""
    assert tuning.cpu_threads_environment(0, 1) == {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    assert tuning.cpu_threads_environment(2, 8) == {}  # GPU ranks: torchrun's business
    assert tuning.cpu_threads_environment(0, None) == {}
