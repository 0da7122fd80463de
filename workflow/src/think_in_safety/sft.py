"""Safety fine-tuning of reasoning models on the compared training sets, and its registration.

The paper fine-tunes R1-Onevision and LLaVA-CoT on TiS and, for comparison, on VLGuard, MIS and
SPA-VL (docs/study.md, "Fine-tuning comparison"). Config ``sft``: which reasoning models (``models``) are tuned on
which sets (``training_sets``: keys of the ``training_sets`` registry), with LLaMA-Factory
hyperparameters (``hyper``: keys of ``models.tuning.HYPER_DEFAULTS``) on top of a YAML template
in ``config/`` (LLaMA-Factory keys shared by every run).

Each tuned model is registered as ``<model>+<training set>`` (:func:`register_tuned_models`, in
:mod:`think_in_safety.planning`; ``config.validate_config`` checks the cross-references of
``sft``, ``training_sets`` and ``tis``): an entry of the model registry with the parent's chat
template, thought format, decoding and GPUs, weights at ``resources/tuned_models/<model>+<set>``,
so it goes through generation, judging and metrics on every benchmark like any other model.

A run trains in ``resources/sft_checkpoints/<model>+<set>`` (:data:`CHECKPOINT_DIR`, outside the
rule's output, which Snakemake deletes before a job starts) with a checkpoint every
``sft.save_steps`` steps, so a stopped or requeued job resumes; ``sft.deepspeed`` names a
DeepSpeed ZeRO config and ``sft.gpus`` the ranks on one node (docs/sft.md).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import yaml

from think_in_safety.models import tuning

# the registration of tuned models is part of planning (the Snakefile), which imports no pandas
from think_in_safety.planning import (  # noqa: F401  (re-exported)
    SEPARATOR,
    TUNED_DIR,
    is_tuned,
    register_tuned_models,
    tuned_models,
    tuned_name,
)

CHECKPOINT_DIR = "resources/sft_checkpoints"
# Keys the rule fills in: a template must not set them.
RESERVED_KEYS = ("model_name_or_path", "dataset", "dataset_dir", "media_dir", "output_dir", "template",
                 "resume_from_checkpoint")
# Keys that have a config key of their own: the template names the key to set instead.
CONFIG_KEYS = {"deepspeed": "sft.deepspeed", "save_steps": "sft.save_steps", "save_strategy": "sft.save_steps"}


# ------------------------------------------------------------------------------------------------
# one tuning run
# ------------------------------------------------------------------------------------------------
def load_template(path: str | Path) -> dict:
    """The LLaMA-Factory keys of the template file (``sft.llamafactory_template``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sft.llamafactory_template is {path}, which does not exist")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a mapping of LLaMA-Factory keys")
    reserved = sorted(set(data) & set(RESERVED_KEYS))
    if reserved:
        raise ValueError(f"{path} sets {reserved}: the sft rule fills these in; remove them from the template")
    configured = sorted(set(data) & set(CONFIG_KEYS))
    if configured:
        keys = sorted({CONFIG_KEYS[key] for key in configured})
        raise ValueError(f"{path} sets {configured}: set {keys} in the config instead and remove them from the "
                         "template")
    return data


def checkpoint_dir(name: str) -> str:
    """Where the run of tuned model ``name`` keeps its checkpoints until it has finished."""
    return f"{CHECKPOINT_DIR}/{name}"


def train_config(template: dict, model_dir: str, dataset_dir: str | Path, dataset_name: str, output_dir: str | Path,
                 chat_template: str, hyper: dict, seed: int, save_steps: int = 0,
                 deepspeed: str | Path | None = None) -> dict:
    """The train YAML: ``models.tuning.llamafactory_config`` with the template's keys on top, then
    ``hyper.extra`` (the last word). ``save_steps`` (``sft.save_steps``) and ``deepspeed``
    (``sft.deepspeed``, a JSON path) as in ``llamafactory_config``."""
    hyper = dict(hyper)
    extra = {**template, **hyper.pop("extra", {})}
    return tuning.llamafactory_config(model_dir, Path(dataset_dir), dataset_name, Path(output_dir), chat_template,
                                      {"seed": seed, **hyper, "extra": extra}, save_steps=save_steps,
                                      deepspeed=deepspeed)


def accepted_dataset(dataset_dir: str | Path, name: str, validation: pd.DataFrame,
                     work_dir: str | Path) -> tuple[Path, dict]:
    """The dataset to train on: the set itself, or a copy of its accepted records when LLaMA-Factory
    would reject some (rejected ones would stop its training). Returns ``(dataset_dir, extra keys)``."""
    rejected = set(validation.loc[validation["status"] == "rejected", "index"])
    if not rejected:
        return Path(dataset_dir), {}
    records = json.loads((Path(dataset_dir) / "data.json").read_text(encoding="utf-8"))
    kept = [record for index, record in enumerate(records) if index not in rejected]
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / "data.json").write_text(json.dumps(kept, ensure_ascii=False), encoding="utf-8")
    info = json.loads((Path(dataset_dir) / "dataset_info.json").read_text(encoding="utf-8"))
    (work_dir / "dataset_info.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    return work_dir, {"media_dir": str(Path(dataset_dir))}  # images stay where they are


def run_sft(config: dict, config_path: str | Path, log_path: str | Path, summary_path: str | Path,
            records: int, offline: bool = True, checkpoint_dir: str | Path | None = None, gpus: int = 0,
            threads: int | None = None) -> dict:
    """Train (and merge a LoRA adapter), then write a summary: wall time, records, LLaMA-Factory's
    own train results (``train_results.json``: runtime, loss, steps per second), the step an
    interrupted attempt was resumed from. ``checkpoint_dir``, ``gpus`` and ``threads``: as in
    ``models.tuning.run_llamafactory``."""
    start = time.time()
    run = tuning.run_llamafactory(config, config_path=Path(config_path), log_path=Path(log_path), offline=offline,
                                  checkpoint_dir=Path(checkpoint_dir) if checkpoint_dir else None, gpus=gpus,
                                  threads=threads)
    seconds = time.time() - start
    results_file = Path(config["output_dir"]) / "train_results.json"  # the adapter directory for LoRA
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    state_file = results_file.with_name("trainer_state.json")
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    summary = {"wall_seconds": round(seconds, 1), "records": records,
               "max_steps": config.get("max_steps"), "num_train_epochs": config.get("num_train_epochs"),
               "learning_rate": config["learning_rate"], "finetuning_type": config["finetuning_type"],
               "per_device_train_batch_size": config["per_device_train_batch_size"],
               "gpus": int(gpus or 0), "deepspeed": config.get("deepspeed"), "save_steps": config.get("save_steps", 0),
               "global_step": state.get("global_step"), "resumed_from_step": run["resumed_from_step"],
               "llamafactory_train_results": results}
    Path(summary_path).parent.mkdir(parents=True, exist_ok=True)
    Path(summary_path).write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary
