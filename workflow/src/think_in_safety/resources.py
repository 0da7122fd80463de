"""What each job asks a scheduler for: memory (MB), time (minutes) and GPUs.

First estimates for the rules to declare; profiles override any of them per rule
(``set-resources`` in ``profiles/*/config.yaml``) and cluster-specific values (partition,
account) live only there. Sizes come from the registries: ``models.<m>.size_b`` / ``gpus``,
``judges.<j>.size_b`` / ``gpus``, ``tis.captioner|writer.gpus``, ``sft.gpus``.
"""

from __future__ import annotations

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


def generation_resources(config: dict, model: str) -> dict:
    """One generation job of ``model``: time grows with size (60 min + 10 min per billion)."""
    entry = config["models"][model]
    size_b = float(entry.get("size_b") or 0)
    return {
        "mem_mb": model_memory(size_b),
        "runtime": int(60 + 10 * size_b),
        "gpu": int(entry.get("gpus") or 0),
    }


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


def sft_resources(config: dict, model: str) -> dict:
    """One SFT run: the GPU count of ``sft.gpus``; host memory for the model and its optimizer."""
    gpus = int(config["sft"]["gpus"] or 0)
    if not gpus:  # the tiny demo models train on CPU (docs/stack.md)
        return {"mem_mb": 4000, "runtime": 60, "gpu": 0}
    size_b = float(config["models"][model].get("size_b") or 0)
    return {"mem_mb": max(64000, model_memory(size_b) * 4), "runtime": 1440, "gpu": gpus}
