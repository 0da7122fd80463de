"""Supervised fine-tuning with LLaMA-Factory (the framework the TiS data is formatted for).

:func:`llamafactory_config` turns a few hyperparameters into LLaMA-Factory's train YAML;
:func:`run_llamafactory` runs ``llamafactory-cli train`` on it and leaves an output directory that
``AutoProcessor`` / ``AutoModelForImageTextToText`` load and that a second tuning round can start
from. CPU settings follow the stack proven on the target machines (STACK.md, "LLaMA-Factory on CPU").
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import deque
from pathlib import Path

import yaml

# Defaults of the ``hyper`` keys: the embedded demo's, measured on 2 CPU cores with the tiny
# Qwen2.5-VL of :mod:`zoo` and 1,000 chat examples (800 steps ~50 s of training; reasoners tuned
# from the base converge in 600). For real 7B-11B models use e.g. learning_rate 1e-5, max_steps
# None with num_train_epochs 1-3, cutoff_len 4096-8192, device "cuda" (the study's own values are
# unknown: PAPER.md).
HYPER_DEFAULTS = {
    "finetuning_type": "full",  # "full" or "lora" (LoRA stalls on tiny models: STACK.md)
    "device": "cpu",  # "cpu": fp32 and the CPU settings below; "cuda": bf16
    "cutoff_len": 512,
    "per_device_train_batch_size": 8,
    "gradient_accumulation_steps": 1,
    "learning_rate": 2.0e-3,
    "max_steps": 800,  # when set (not None/0) it wins over num_train_epochs
    "num_train_epochs": 3.0,
    "lr_scheduler_type": "cosine",
    "warmup_ratio": 0.05,
    "weight_decay": 0.0,
    "seed": 0,
    "logging_steps": 10,
    # A tiny random-init model must learn to see: train the vision tower and projector too.
    # LLaMA-Factory's own defaults (True) suit real pretrained models.
    "freeze_vision_tower": False,
    "freeze_multi_modal_projector": False,
    "lora_rank": 8,
    "lora_alpha": 16,
    "lora_target": "all",
    "extra": {},  # any further LLaMA-Factory keys, passed through verbatim (last word)
}

# Files a model directory needs besides the weights for AutoProcessor to load it.
PROCESSOR_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "chat_template.json",
    "processor_config.json",
    "preprocessor_config.json",
    "video_preprocessor_config.json",
    "generation_config.json",
)

LORA_ADAPTER_SUBDIR = "lora_adapter"
FULL_LOAD_CHECK_BYTES = 1 << 30  # load the whole model as a check only when its weights are small


def _hyper(hyper: dict) -> dict:
    unknown = set(hyper) - set(HYPER_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown tuning keys {sorted(unknown)}; known: {sorted(HYPER_DEFAULTS)}")
    return {**HYPER_DEFAULTS, **hyper}


def _device_settings(device: str) -> dict:
    if device == "cpu":
        return {
            "bf16": False,
            "fp16": False,
            "disable_gradient_checkpointing": True,  # 1.7x faster on CPU (STACK.md)
            "preprocessing_num_workers": 1,
            "dataloader_num_workers": 0,
        }
    return {"bf16": True, "fp16": False, "preprocessing_num_workers": 4, "dataloader_num_workers": 2}


def llamafactory_config(
    model_dir: Path,
    dataset_dir: Path,
    dataset_name: str,
    output_dir: Path,
    template: str,
    hyper: dict,
) -> dict:
    """The LLaMA-Factory train YAML (as a dict) for SFT of ``model_dir`` on ``dataset_name``.

    ``hyper`` keys and defaults: :data:`HYPER_DEFAULTS`. Only the final model is saved. With
    ``finetuning_type: lora`` the adapter goes to ``output_dir/lora_adapter`` and
    :func:`run_llamafactory` merges it into ``output_dir``.
    """
    h = _hyper(hyper)
    lora = h["finetuning_type"] == "lora"
    if h["finetuning_type"] not in ("full", "lora"):
        raise ValueError(f"finetuning_type must be 'full' or 'lora', not {h['finetuning_type']!r}")
    config = {
        "model_name_or_path": str(model_dir),
        "trust_remote_code": False,
        "stage": "sft",
        "do_train": True,
        "finetuning_type": h["finetuning_type"],
        "freeze_vision_tower": h["freeze_vision_tower"],
        "freeze_multi_modal_projector": h["freeze_multi_modal_projector"],
        "dataset": dataset_name,
        "dataset_dir": str(dataset_dir),
        "template": template,
        "cutoff_len": h["cutoff_len"],
        "overwrite_cache": True,
        "output_dir": str(Path(output_dir) / LORA_ADAPTER_SUBDIR if lora else output_dir),
        "overwrite_output_dir": True,
        "save_strategy": "no",  # the final model is saved once, at the end of training
        "save_only_model": True,
        "plot_loss": False,
        "report_to": "none",
        "logging_steps": h["logging_steps"],
        "per_device_train_batch_size": h["per_device_train_batch_size"],
        "gradient_accumulation_steps": h["gradient_accumulation_steps"],
        "learning_rate": h["learning_rate"],
        "lr_scheduler_type": h["lr_scheduler_type"],
        "warmup_ratio": h["warmup_ratio"],
        "weight_decay": h["weight_decay"],
        "seed": h["seed"],
        "data_seed": h["seed"],
        **_device_settings(h["device"]),
    }
    if h["max_steps"]:
        config["max_steps"] = int(h["max_steps"])
    else:
        config["num_train_epochs"] = float(h["num_train_epochs"])
    if lora:
        config.update(lora_rank=h["lora_rank"], lora_alpha=h["lora_alpha"], lora_target=h["lora_target"])
    config.update(h["extra"])
    return config


def _cli() -> str:
    """``llamafactory-cli`` of the running interpreter's environment, else the one on PATH."""
    local = Path(sys.executable).parent / "llamafactory-cli"
    return str(local) if local.exists() else "llamafactory-cli"


def _environment(offline: bool = True) -> dict:
    """The CLI's environment; ``offline=False`` lets it download hub weights (real studies)."""
    env = dict(os.environ)
    env.update(DISABLE_VERSION_CHECK="1", TOKENIZERS_PARALLELISM="false", WANDB_DISABLED="true")
    if offline:
        env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    return env


def _run_cli(args: list[str], log_path: Path, offline: bool = True) -> None:
    """Run ``llamafactory-cli ARGS``, streaming to ``log_path``; raise with the log tail on failure."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    tail: deque[str] = deque(maxlen=40)
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"$ llamafactory-cli {' '.join(args)}\n")
        log.flush()
        process = subprocess.Popen(
            [_cli(), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_environment(offline)
        )
        for line in process.stdout:
            log.write(line)
            log.flush()
            tail.append(line)
        code = process.wait()
    if code != 0:
        raise RuntimeError(f"llamafactory-cli {args[0]} failed (exit {code}); log {log_path}:\n{''.join(tail)}")


def _write_yaml(config: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def _merge_lora(config: dict, config_path: Path, log_path: Path, offline: bool = True) -> None:
    """Merge the trained adapter into a full model at the final output directory."""
    adapter_dir = Path(config["output_dir"])
    export = {
        "model_name_or_path": config["model_name_or_path"],
        "adapter_name_or_path": str(adapter_dir),
        "template": config["template"],
        "finetuning_type": "lora",
        "trust_remote_code": False,
        "export_dir": str(adapter_dir.parent),
        "export_device": "cpu",
        "export_legacy_format": False,
    }
    export_path = config_path.with_name(config_path.stem + "_export.yaml")
    _write_yaml(export, export_path)
    _run_cli(["export", str(export_path)], log_path, offline)


def complete_model_dir(model_dir: Path, output_dir: Path) -> list[str]:
    """Copy processor/tokenizer files that ``output_dir`` lacks from ``model_dir``; return their names."""
    copied = []
    for name in PROCESSOR_FILES:
        source, target = Path(model_dir) / name, Path(output_dir) / name
        if source.exists() and not target.exists():
            shutil.copy2(source, target)
            copied.append(name)
    return copied


def check_model_dir(model_dir: Path) -> None:
    """Raise unless ``model_dir`` loads with AutoProcessor and AutoModelForImageTextToText.

    Large models are checked by config and weight files only; small ones are loaded in full.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor

    model_dir = Path(model_dir)
    AutoProcessor.from_pretrained(model_dir)
    AutoConfig.from_pretrained(model_dir)
    weights = list(model_dir.glob("*.safetensors")) + list(model_dir.glob("*.bin"))
    if not weights:
        raise RuntimeError(f"{model_dir} holds no model weights")
    if sum(path.stat().st_size for path in weights) <= FULL_LOAD_CHECK_BYTES:
        AutoModelForImageTextToText.from_pretrained(model_dir)


def run_llamafactory(config: dict, config_path: Path, log_path: Path, offline: bool = True) -> None:
    """Write ``config`` as YAML, train with ``llamafactory-cli``, then check the result loads.

    Output streams to ``log_path``; a failure raises RuntimeError with the log tail. A LoRA run
    is merged into a full model at the parent of its adapter directory. Processor and tokenizer
    files that LLaMA-Factory did not save are copied from the input model. ``offline=False`` lets
    LLaMA-Factory fetch hub weights (a real study's start model given as a hub id).
    """
    config_path, log_path = Path(config_path), Path(log_path)
    log_path.unlink(missing_ok=True)
    _write_yaml(config, config_path)
    _run_cli(["train", str(config_path)], log_path, offline)
    output_dir = Path(config["output_dir"])
    if config.get("finetuning_type") == "lora":
        _merge_lora(config, config_path, log_path, offline)
        output_dir = output_dir.parent
    complete_model_dir(Path(config["model_name_or_path"]), output_dir)
    check_model_dir(output_dir)
