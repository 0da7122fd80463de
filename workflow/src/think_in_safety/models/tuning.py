"""Supervised fine-tuning with LLaMA-Factory (the framework the TiS data is formatted for).

:func:`llamafactory_config` turns a few hyperparameters into LLaMA-Factory's train YAML;
:func:`run_llamafactory` runs ``llamafactory-cli train`` on it and leaves an output directory that
``AutoProcessor`` / ``AutoModelForImageTextToText`` load and that a second tuning round can start
from. CPU settings follow the stack proven on the target machines (docs/stack.md, "LLaMA-Factory").

Runs that must survive being stopped (the workflow's sft rule) train in a checkpoint folder of
their own (``checkpoint_dir``) with ``save_steps``: a rerun resumes from the latest complete
checkpoint there, and only a finished run's model is moved to ``output_dir`` (docs/sft.md).
Several GPUs or a DeepSpeed config launch LLaMA-Factory's torchrun mode (``FORCE_TORCHRUN``,
``NPROC_PER_NODE``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections import deque
from pathlib import Path

import yaml

# Defaults of the ``hyper`` keys, for the tiny Qwen2.5-VL of :mod:`zoo` on CPU (~0.10 s a step on
# two threads, ~0.13 s on one, tools/bench_tuning.py; config/config.yaml sets the demo's own step
# counts: 600 for a base, 400 for a reasoner tuned from it). For real 7B-11B models use e.g.
# learning_rate 1e-5, max_steps None with num_train_epochs 1-3, cutoff_len 4096-8192, device "cuda"
# (the study's own values are unknown: docs/study.md).
HYPER_DEFAULTS = {
    "finetuning_type": "full",  # "full" or "lora" (LoRA stalls on tiny models: docs/stack.md)
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
# One of these makes a model folder's tokenizer (fast tokenizers, SentencePiece, BPE vocabularies).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")

# Checkpoints (transformers' Trainer names them checkpoint-<global step>). One is kept: the Trainer
# deletes the previous one only after the next is complete, so a stop while saving still leaves one.
CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
SAVE_TOTAL_LIMIT = 1
COMPLETE_MARKER = "trainer_state.json"  # the Trainer writes it last into a checkpoint
FINGERPRINT_FILE = "run_fingerprint.json"
# Keys that say where a run writes or starts from, not what it trains.
PLACE_KEYS = ("output_dir", "resume_from_checkpoint", "overwrite_output_dir")


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
            "disable_gradient_checkpointing": True,  # 1.7x faster on CPU (docs/stack.md)
            "preprocessing_num_workers": 1,
            "dataloader_num_workers": 0,
        }
    return {"bf16": True, "fp16": False, "preprocessing_num_workers": 4, "dataloader_num_workers": 2}


def _save_settings(save_steps: int) -> dict:
    """Only the final model (``save_steps`` 0), or a resumable checkpoint every ``save_steps``
    optimizer steps: weights, optimizer, scheduler and RNG states (``save_only_model`` false)."""
    if not save_steps:
        return {"overwrite_output_dir": True, "save_strategy": "no", "save_only_model": True}
    if int(save_steps) < 0:
        raise ValueError(f"save_steps must be 0 (no checkpoints) or a positive step count, not {save_steps}")
    return {"save_strategy": "steps", "save_steps": int(save_steps), "save_total_limit": SAVE_TOTAL_LIMIT,
            "save_only_model": False}


def check_deepspeed_config(path: str | Path) -> Path:
    """The DeepSpeed JSON at ``path`` (absolute); raise naming ``sft.deepspeed`` and the fix."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sft.deepspeed is {path}, which does not exist; point it at a DeepSpeed JSON "
                                "such as config/deepspeed/zero3.json, or set it to null (no DeepSpeed)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"sft.deepspeed: {path} is not JSON ({error}); fix the file") from None
    stage = data.get("zero_optimization", {}).get("stage") if isinstance(data, dict) else None
    if stage not in (0, 1, 2, 3):
        raise ValueError(f"sft.deepspeed: {path} sets no zero_optimization.stage (0-3); add one "
                         "(config/deepspeed/zero3.json shows the keys)")
    return path.resolve()


def llamafactory_config(
    model_dir: Path,
    dataset_dir: Path,
    dataset_name: str,
    output_dir: Path,
    template: str,
    hyper: dict,
    save_steps: int = 0,
    deepspeed: str | Path | None = None,
) -> dict:
    """The LLaMA-Factory train YAML (as a dict) for SFT of ``model_dir`` on ``dataset_name``.

    ``hyper`` keys and defaults: :data:`HYPER_DEFAULTS`. With ``save_steps`` 0 only the final
    model is saved; otherwise a resumable checkpoint every ``save_steps`` steps (see
    :func:`run_llamafactory`). ``deepspeed``: a DeepSpeed JSON (LLaMA-Factory's ``deepspeed``
    key). With ``finetuning_type: lora`` the adapter goes to ``output_dir/lora_adapter`` and
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
        **_save_settings(save_steps),
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
    if deepspeed:
        config["deepspeed"] = str(check_deepspeed_config(deepspeed))
    config.update(h["extra"])
    return config


def _cli() -> str:
    """``llamafactory-cli`` of the running interpreter's environment, else the one on PATH."""
    local = Path(sys.executable).parent / "llamafactory-cli"
    return str(local) if local.exists() else "llamafactory-cli"


def _environment(offline: bool = True) -> dict:
    """The CLI's environment. ``offline`` (the workflow's case: it always hands LLaMA-Factory a
    local folder, hub weights being downloaded first by download_model) keeps the CLI off the
    hub; ``offline=False`` leaves the caller's environment as it is."""
    env = dict(os.environ)
    env.update(DISABLE_VERSION_CHECK="1", TOKENIZERS_PARALLELISM="false", WANDB_DISABLED="true")
    # LLaMA-Factory starts `torchrun` by name: the one next to this interpreter comes first
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    if offline:
        env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    return env


def launch_environment(gpus: int, deepspeed: bool) -> dict:
    """LLaMA-Factory's launcher settings for ``gpus`` GPUs of one node: one rank per GPU under
    torchrun when there are several GPUs or DeepSpeed (which always needs torchrun, even with one
    GPU or on CPU); nothing for one process on one GPU or CPU."""
    gpus = int(gpus or 0)
    if gpus < 0:
        raise ValueError(f"sft.gpus must be 0 (CPU) or a GPU count, not {gpus}")
    env = {}
    if gpus > 1 or deepspeed:
        env.update(FORCE_TORCHRUN="1", NNODES="1", NODE_RANK="0")
    if gpus >= 1 or deepspeed:
        env["NPROC_PER_NODE"] = str(max(gpus, 1))
    return env


def check_deepspeed_installed(config: dict) -> None:
    """Raise, before anything is loaded, when the run names a DeepSpeed file but this environment
    lacks the package (LLaMA-Factory does not pull it in)."""
    import importlib.util

    if config.get("deepspeed") and importlib.util.find_spec("deepspeed") is None:
        raise RuntimeError(
            f"sft.deepspeed is {config['deepspeed']} but deepspeed is not installed in this environment "
            f"({sys.executable}): install it (`pip install -c requirements/constraints.txt deepspeed`; "
            "envs/train.yaml pins it) or set sft.deepspeed: null"
        )


def check_visible_gpus(gpus: int) -> None:
    """Raise unless this process sees at least ``gpus`` CUDA devices."""
    if not gpus:
        return
    import torch

    seen = torch.cuda.device_count()
    if seen < gpus:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", "unset")
        raise RuntimeError(
            f"sft.gpus is {gpus} but this job sees {seen} GPU(s) (CUDA_VISIBLE_DEVICES={visible}): run it "
            f"where {gpus} GPUs of one node are visible (the sft rule asks the scheduler for them) or lower sft.gpus"
        )


def _run_cli(args: list[str], log_path: Path, offline: bool = True, launch: dict | None = None) -> None:
    """Run ``llamafactory-cli ARGS``, streaming to ``log_path``; raise with the log tail on failure.
    ``launch``: environment variables of LLaMA-Factory's launcher (:func:`launch_environment`)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    tail: deque[str] = deque(maxlen=40)
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"$ llamafactory-cli {' '.join(args)}\n")
        log.flush()
        process = subprocess.Popen(
            [_cli(), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**_environment(offline), **(launch or {})},
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
    """Raise unless ``model_dir`` is a whole model folder, naming what is wrong: a ``config.json``
    with its ``model_type``, every JSON file readable, a tokenizer, and weights of which every file
    is complete (each safetensors file's header parses and its last tensor ends where the file
    does; a sharded index names only files that are there).

    Read from the files, with no model library imported: the next job that uses the model
    (generation, a second tuning round) loads it in full anyway, and importing transformers here
    took about 7 s of a demo SFT job's 45 (docs/sft.md).
    """
    model_dir = Path(model_dir)
    parsed = {}
    for path in sorted(model_dir.glob("*.json")):
        try:
            parsed[path.name] = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise RuntimeError(f"{path} is not readable JSON ({error}): the run wrote a broken model folder") from None
    config = parsed.get("config.json")
    if not isinstance(config, dict) or not config.get("model_type"):
        raise RuntimeError(f"{model_dir} has no config.json naming a model_type: not a model folder")
    if not any((model_dir / name).is_file() for name in TOKENIZER_FILES):
        raise RuntimeError(f"{model_dir} holds no tokenizer (one of {', '.join(TOKENIZER_FILES)})")
    weights = sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin"))
    weights = [path for path in weights if path.name != "training_args.bin"]  # the Trainer's, not weights
    if not weights:
        raise RuntimeError(f"{model_dir} holds no model weights")
    for name in (name for name in parsed if name.endswith(".index.json")):
        index = model_dir / name
        named = set(parsed[name].get("weight_map", {}).values())
        missing = sorted(name for name in named if not (model_dir / name).is_file())
        if missing:
            raise RuntimeError(f"{index} names weight files that are not there: {missing}")
    for path in weights:
        if path.suffix == ".safetensors":
            _check_safetensors(path)
        elif not path.stat().st_size:
            raise RuntimeError(f"{path} is empty")


def _check_safetensors(path: Path) -> None:
    """A safetensors file is an 8-byte header length, a JSON header, then the tensors' bytes at
    the offsets the header gives: the file must end where its last tensor does."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(8)
        length = int.from_bytes(head, "little") if len(head) == 8 else -1
        try:
            if not 0 < length <= size - 8:
                raise ValueError("header length out of range")
            header = json.loads(handle.read(length))
            end = max((int(t["data_offsets"][1]) for k, t in header.items() if k != "__metadata__"), default=0)
        except (ValueError, KeyError, TypeError, IndexError) as error:
            raise RuntimeError(f"{path} is not a readable safetensors file ({error})") from None
    if 8 + length + end != size:
        raise RuntimeError(f"{path} is {size} bytes but its header describes {8 + length + end}: the file is "
                           "truncated or was written by an interrupted save; rerun the job")


# ------------------------------------------------------------------------------------------------
# checkpoints that survive a stopped job
# ------------------------------------------------------------------------------------------------
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _dataset_files(config: dict) -> list[Path]:
    """The files of ``config["dataset"]`` (their ``dataset_info.json`` entries) and that index."""
    dataset_dir = Path(config.get("dataset_dir", "."))
    info_path = dataset_dir / "dataset_info.json"
    if not info_path.is_file():
        return []
    info = json.loads(info_path.read_text(encoding="utf-8"))
    names = [name.strip() for name in str(config.get("dataset", "")).split(",") if name.strip()]
    files = [dataset_dir / info[name]["file_name"] for name in names if "file_name" in info.get(name, {})]
    return [info_path, *[path for path in files if path.is_file()]]


def _model_files(model_dir: Path) -> dict:
    """What identifies a start model folder cheaply: its JSON files' digests, its weights' sizes and times."""
    if not model_dir.is_dir():
        return {"id": str(model_dir)}
    files = {}
    for path in sorted(model_dir.iterdir()):
        if path.suffix == ".json":
            files[path.name] = _sha256(path)
        elif path.suffix in (".safetensors", ".bin"):
            stat = path.stat()
            files[path.name] = [stat.st_size, stat.st_mtime_ns]
    return files


def run_fingerprint(config: dict, nproc: int) -> dict:
    """What a checkpoint's run was: the train keys (not where it writes), the number of ranks
    (DeepSpeed's partitioned states load only into as many), the DeepSpeed file's content, the
    data and the start model."""
    train = {key: value for key, value in config.items() if key not in PLACE_KEYS}
    deepspeed = Path(str(config["deepspeed"])) if config.get("deepspeed") else None
    return {
        "train": json.loads(json.dumps(train, sort_keys=True, default=str)),
        "ranks": int(nproc),
        "deepspeed": _sha256(deepspeed) if deepspeed and deepspeed.is_file() else None,
        "data": {str(path): _sha256(path) for path in _dataset_files(config)},
        "model": _model_files(Path(str(config.get("model_name_or_path", "")))),
    }


def checkpoint_step(path: Path) -> int:
    match = CHECKPOINT.match(Path(path).name)
    if not match:
        raise ValueError(f"{path} is not a checkpoint-<step> folder")
    return int(match.group(1))


def latest_checkpoint(checkpoint_dir: Path) -> Path | None:
    """The complete checkpoint of the highest step in ``checkpoint_dir``; incomplete ones (a stop
    while saving: no ``trainer_state.json``, which the Trainer writes last) are deleted."""
    checkpoint_dir = Path(checkpoint_dir)
    if not checkpoint_dir.is_dir():
        return None
    complete = []
    for path in checkpoint_dir.iterdir():
        if path.is_dir() and CHECKPOINT.match(path.name):
            if (path / COMPLETE_MARKER).is_file():
                complete.append(path)
            else:
                shutil.rmtree(path)
    return max(complete, key=checkpoint_step, default=None)


def prepare_checkpoints(checkpoint_dir: Path, fingerprint: dict) -> tuple[Path | None, list[str]]:
    """Make ``checkpoint_dir`` ready for a run; return its checkpoint to resume from and notes.

    Checkpoints of another run (different train keys, ranks, data or start model) are deleted,
    and so is anything but checkpoints that an earlier attempt left (a final model it saved but
    did not move: LLaMA-Factory refuses to train into a folder holding one).
    """
    checkpoint_dir = Path(checkpoint_dir)
    notes = []
    marker = checkpoint_dir / FINGERPRINT_FILE
    if checkpoint_dir.is_dir():
        earlier = json.loads(marker.read_text(encoding="utf-8")) if marker.is_file() else None
        if earlier != fingerprint and any(checkpoint_dir.iterdir()):
            notes.append(f"{checkpoint_dir} held checkpoints of another run configuration (train keys, "
                         "GPUs, data or start model changed): deleted, training starts at step 0")
            shutil.rmtree(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    for path in checkpoint_dir.iterdir():
        if path.name != FINGERPRINT_FILE and not (path.is_dir() and CHECKPOINT.match(path.name)):
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    marker.write_text(json.dumps(fingerprint, indent=1, sort_keys=True), encoding="utf-8")
    return latest_checkpoint(checkpoint_dir), notes


def _publish(checkpoint_dir: Path, output_dir: Path) -> None:
    """Move what the finished run saved (model, tokenizer, train results; not the checkpoints)
    from ``checkpoint_dir`` to a fresh ``output_dir``."""
    if output_dir.exists():
        shutil.rmtree(output_dir)
    output_dir.mkdir(parents=True)
    for path in checkpoint_dir.iterdir():
        if path.name == FINGERPRINT_FILE or (path.is_dir() and CHECKPOINT.match(path.name)):
            continue
        shutil.move(str(path), str(output_dir / path.name))


def cpu_threads_environment(gpus: int, threads: int | None) -> dict:
    """For a CPU run (no ``gpus``) of ``threads`` cores: the thread-pool sizes of torch's OpenMP and
    MKL, which otherwise take every core of the machine, so two jobs of one thread each run side by
    side without fighting over the cores. Nothing for GPU runs (torchrun sizes its ranks)."""
    if gpus or not threads:
        return {}
    return {"OMP_NUM_THREADS": str(int(threads)), "MKL_NUM_THREADS": str(int(threads))}


def run_llamafactory(config: dict, config_path: Path, log_path: Path, offline: bool = True,
                     checkpoint_dir: Path | None = None, gpus: int = 0, threads: int | None = None) -> dict:
    """Write ``config`` as YAML, train with ``llamafactory-cli``, then check the result is a whole model folder.

    Output streams to ``log_path``; a failure raises RuntimeError with the log tail. A LoRA run
    is merged into a full model at the parent of its adapter directory. Processor and tokenizer
    files that LLaMA-Factory did not save are copied from the input model. ``offline=False`` lets
    LLaMA-Factory fetch hub weights (a real study's start model given as a hub id).

    ``checkpoint_dir``: LLaMA-Factory trains there instead of in ``config["output_dir"]``, from
    the latest complete checkpoint of an earlier attempt of the same run if there is one
    (``resume_from_checkpoint``, written into the YAML); the finished model is then moved to
    ``config["output_dir"]`` and, once it passes :func:`check_model_dir`, ``checkpoint_dir`` is
    deleted. ``gpus``: ranks on this node (:func:`launch_environment`); ``threads``: the cores of a CPU run
    (:func:`cpu_threads_environment`). Returns ``{"resumed_from_step": step or None}``.
    """
    config_path, log_path = Path(config_path), Path(log_path)
    log_path.unlink(missing_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    launch = {**launch_environment(gpus, bool(config.get("deepspeed"))), **cpu_threads_environment(gpus, threads)}
    check_deepspeed_installed(config)
    check_visible_gpus(int(gpus or 0))
    target = Path(config["output_dir"])
    train = dict(config)
    resumed = None
    if checkpoint_dir is not None:
        checkpoint_dir = Path(checkpoint_dir)
        nproc = int(launch.get("NPROC_PER_NODE", 1))
        resumed, notes = prepare_checkpoints(checkpoint_dir, run_fingerprint(config, nproc))
        train["output_dir"] = str(checkpoint_dir)
        train.pop("overwrite_output_dir", None)  # LLaMA-Factory then also refuses to start over silently
        if resumed is not None:
            train["resume_from_checkpoint"] = str(resumed)
            notes.append(f"Resuming from {resumed} (global step {checkpoint_step(resumed)} of an earlier attempt)")
        with open(log_path, "a", encoding="utf-8") as log:
            log.writelines(f"{note}\n" for note in notes)
    _write_yaml(train, config_path)
    _run_cli(["train", str(config_path)], log_path, offline, launch)
    if checkpoint_dir is not None:
        _publish(checkpoint_dir, target)
    output_dir = target
    if config.get("finetuning_type") == "lora":
        _merge_lora(config, config_path, log_path, offline)
        output_dir = output_dir.parent
    complete_model_dir(Path(config["model_name_or_path"]), output_dir)
    check_model_dir(output_dir)
    if checkpoint_dir is not None:
        shutil.rmtree(checkpoint_dir)  # the run is done: its checkpoints are spent (docs/sft.md)
    return {"resumed_from_step": checkpoint_step(resumed) if resumed is not None else None}
