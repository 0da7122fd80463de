"""What each job asks a scheduler for: memory (MB), time (minutes) and GPUs.

First estimates for the rules to declare; profiles override any of them per rule
(``set-resources`` in ``profiles/*/config.yaml``) and cluster-specific values (partition,
account) live only there. Sizes come from the registries: ``models.<m>.size_b`` / ``gpus``,
``judges.<j>.size_b`` / ``gpus``, ``tis.captioner|writer.gpus``, ``sft.gpus``.
"""

from __future__ import annotations

import math

from think_in_safety.config import model_backend, model_decoding

# Steps that read small tables and write tables, figures or pages.
SMALL_JOB = {"mem_mb": 2000, "runtime": 15}
# Steps that hold a whole training set or benchmark release (records and images) in memory.
DATA_JOB = {"mem_mb": 8000, "runtime": 60}
# Downloads of releases whose image archives run to several GB (MIS: 10.6 GB).
DOWNLOAD_JOB = {"mem_mb": 4000, "runtime": 360}
# A job that mostly waits on an OpenAI-compatible endpoint: little memory, long wall time.
ENDPOINT_JOB = {"mem_mb": 2000, "runtime": 480}


def model_memory(size_b: float) -> int:
    """Host memory for loading a model of ``size_b`` billion parameters (MB).

    bf16 weights take 2 GB per billion parameters and are staged in host memory while loading,
    plus 8 GB for the runtime; a tiny CPU model (size_b 0) needs 4 GB.
    """
    return int((2 * size_b + 8) * 1024) if size_b else 4000


# Generated tokens per second of one generation job, first estimates on the low side for
# Qwen2.5-VL/Llama-3.2-Vision-class models in bf16 on one A100/H100-class GPU: a model of size_b
# billion parameters is taken as size_b times slower than a 1 B one, tensor parallelism as
# linear in the GPUs. vLLM batches continuously (hundreds of sequences at once); transformers
# decodes generation.batch_size sequences per step and waits for the longest.
GENERATION_TOKENS_PER_S_1B = {"vllm": 20000.0, "transformers": 2500.0}
# Tiny demo models (size_b 0) on CPU, any local backend (docs/generation.md measures them).
CPU_TOKENS_PER_S = 100.0
# A model behind an API: tokens per second of each request in flight.
API_TOKENS_PER_S_PER_REQUEST = 20.0
# Longest generation job asked for (minutes); past it, split the benchmark (generation.shards).
GENERATION_MAX_RUNTIME = 1440


def generation_threads(config: dict, model: str) -> int:
    """CPUs of one generation job: 1 for a tiny model on CPU (no ``size_b``, no ``gpus``: the
    embedded demo's, whose job is mostly interpreter start-up and imports, so two run side by
    side on two cores), else 2 (the engine's host process and tokenisation while GPUs or an
    endpoint do the work). A profile's ``set-threads: {generate: N}`` overrides it."""
    entry = config["models"][model]
    tiny = not float(entry.get("size_b") or 0) and not int(entry.get("gpus") or 0)
    return 1 if tiny and model_backend(config, model) != "openai" else 2


def generation_tokens_per_s(config: dict, model: str) -> float:
    """Estimated generated tokens per second of one job of ``model`` (constants above)."""
    entry = config["models"][model]
    backend = model_backend(config, model)
    if backend == "openai":
        in_flight = min(int(entry.get("max_concurrency") or 8), int(config["generation"]["batch_size"]))
        return API_TOKENS_PER_S_PER_REQUEST * in_flight
    gpus = int(entry.get("gpus") or 0)
    if not gpus:
        return CPU_TOKENS_PER_S
    size_b = max(float(entry.get("size_b") or 0), 1.0)
    return GENERATION_TOKENS_PER_S_1B.get(backend, GENERATION_TOKENS_PER_S_1B["transformers"]) * gpus / size_b


def generation_resources(config: dict, model: str, samples: int | None = None) -> dict:
    """One generation job of ``model`` drawing ``samples`` responses (None: not known yet).

    Time: 60 min + 10 min per billion parameters (loading, engine start), plus every sample
    at the full ``max_new_tokens`` budget at :func:`generation_tokens_per_s`, capped at
    :data:`GENERATION_MAX_RUNTIME`. Memory: :func:`model_memory`. GPUs: ``models.<m>.gpus``.
    """
    entry = config["models"][model]
    size_b = float(entry.get("size_b") or 0)
    return {
        "mem_mb": model_memory(size_b),
        "runtime": int(min(math.ceil(generation_minutes(config, model, samples)), GENERATION_MAX_RUNTIME)),
        "gpu": int(entry.get("gpus") or 0),
    }


def generation_minutes(config: dict, model: str, samples: int | None = None) -> float:
    """The estimate of :func:`generation_resources` before the cap: 60 min + 10 min per billion
    parameters, plus every sample at the full ``max_new_tokens`` budget."""
    minutes = 60 + 10 * float(config["models"][model].get("size_b") or 0)
    if samples:
        max_new_tokens = int(model_decoding(config, model).get("max_new_tokens") or 256)
        minutes += samples * max_new_tokens / generation_tokens_per_s(config, model) / 60
    return minutes


def generation_overrun(config: dict, model: str, samples: int | None, job: str) -> str | None:
    """A warning when one generation job of ``model`` drawing ``samples`` is estimated past
    :data:`GENERATION_MAX_RUNTIME`, the time it asks the scheduler for; None otherwise."""
    minutes = generation_minutes(config, model, samples)
    if minutes <= GENERATION_MAX_RUNTIME:
        return None
    return (f"{job}: {samples} samples of {model} are estimated at {minutes / 60:.0f} h, more than the "
            f"{GENERATION_MAX_RUNTIME // 60} h the job asks for; if the scheduler stops it, a rerun resumes "
            "from its checkpoints, or split the largest benchmark into jobs of their own with "
            "generation.shards: {<benchmark>: N} (docs/generation.md)")


def judge_resources(config: dict, judge: str) -> dict:
    """One judge job: a local model is sized like generation, an endpoint judge waits on calls."""
    spec = config["judges"][judge]
    if spec["backend"] == "transformers":
        size_b = float(spec.get("size_b") or 0)
        return {
            "mem_mb": model_memory(size_b),
            "runtime": int(60 + 10 * size_b),
            "gpu": int(spec.get("gpus") or 0),
        }
    if spec["backend"] == "openai_compatible":
        return {**ENDPOINT_JOB, "gpu": 0}
    return {**SMALL_JOB, "gpu": 0}  # the rule judge: string matching


def tis_stage_resources(settings: dict) -> dict:
    """A TiS captioner or thought writer: offline template, endpoint, or local model."""
    backend = settings.get("backend")
    if backend == "transformers":
        gpus = int(settings.get("gpus") or 0)
        return {"mem_mb": 32000 if gpus else 8000, "runtime": 480, "gpu": gpus}
    if backend == "openai":
        return {**ENDPOINT_JOB, "gpu": 0}
    return {**SMALL_JOB, "gpu": 0}


# CPUs per training rank: the rank itself, its data loader workers (2 on GPU) and a spare one.
SFT_THREADS_PER_GPU = 4


def sft_resources(config: dict, model: str) -> dict:
    """One SFT run on one node: the ``sft.gpus`` GPUs (one torchrun rank each) and host memory
    for every rank's copy of the model while it loads (docs/sft.md)."""
    gpus = int(config["sft"]["gpus"] or 0)
    if not gpus:  # the tiny demo models train on CPU (docs/stack.md)
        return {"mem_mb": 4000, "runtime": 60, "gpu": 0}
    size_b = float(config["models"][model].get("size_b") or 0)
    # without ZeRO-3 every rank stages the bf16 weights in host memory before moving them to its GPU
    return {"mem_mb": max(64000, model_memory(size_b) * gpus), "runtime": 1440, "gpu": gpus}


# CPUs of one tuning job on CPU (the tiny demo models): two one-thread jobs side by side do 1.85x
# the steps of one two-thread job on two cores (tools/bench_tuning.py, docs/stack.md).
CPU_TUNING_THREADS = 1


def sft_threads(config: dict) -> int:
    """CPUs of one SFT job: :data:`SFT_THREADS_PER_GPU` for each of its ``sft.gpus`` ranks
    (:data:`CPU_TUNING_THREADS` on CPU; a profile's ``set-threads`` overrides it)."""
    gpus = int(config["sft"]["gpus"] or 0)
    return SFT_THREADS_PER_GPU * gpus if gpus else CPU_TUNING_THREADS
