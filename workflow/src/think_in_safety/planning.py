"""What the Snakefile computes while it plans the workflow, with the standard library only.

Snakemake parses the Snakefile on every invocation (a dry run, ``--lint``, each job's own
``snakemake`` call on a cluster), so what ``workflow/rules/*.smk`` import must load fast and need
neither pandas, Pillow, torch nor requests: this module, :mod:`think_in_safety.config` (validation
and every cross-reference check), ``resources``, ``catalog``, ``workflow_files`` and the
registries (``benchmarks.REGISTRY``, ``training_sets.FORMATS``), which are plain data.

* :func:`register_tuned_models` — each fine-tuned model joins the model registry as
  ``<model>+<training set>`` (``think_in_safety.sft`` runs the tuning);
* :func:`shard_counts`, :func:`job_samples` — generation split into jobs
  (``think_in_safety.models.shards`` splits and merges the tables).
"""

from __future__ import annotations

import copy
import errno
import functools
from pathlib import Path

from think_in_safety.config import check_generation_shards, check_training_references

TUNED_DIR = "resources/tuned_models"
SEPARATOR = "+"


# ------------------------------------------------------------------------------------------------
# fine-tuned models in the registry
# ------------------------------------------------------------------------------------------------
def tuned_name(model: str, training_set: str) -> str:
    return f"{model}{SEPARATOR}{training_set}"


def tuned_models(config: dict) -> dict[str, tuple[str, str]]:
    """``{"<model>+<set>": (model, set)}`` for every pair the config asks to tune, in config order."""
    sft = config.get("sft", {})
    return {tuned_name(m, s): (m, s) for m in sft.get("models", []) for s in sft.get("training_sets", [])}


def register_tuned_models(config: dict) -> dict[str, tuple[str, str]]:
    """Add a registry entry for every tuned model of the config: the parent's chat template,
    thought format, decoding and GPUs, weights at ``resources/tuned_models/<model>+<set>``.
    Returns the tuned models."""
    check_training_references(config)  # done by validate_config too; a ConfigError, not a KeyError, here
    tuned = tuned_models(config)
    for name, (model, training_set) in tuned.items():
        parent = copy.deepcopy(config["models"][model])
        label = config["training_sets"][training_set].get("label") or training_set
        # everything of the parent (chat template, thought format, decoding, GPUs, backend, ...)
        # but where its weights come from and what it was trained from
        entry = {key: value for key, value in parent.items() if key not in ("weights", "base", "build", "notes")}
        config["models"][name] = {
            **entry,
            "weights": f"{TUNED_DIR}/{name}",
            "base": None,
            "notes": f"{model} fine-tuned on {label} by this workflow (sft)",
            "tuned_from": model,
            "training_set": training_set,
        }
    return tuned


def is_tuned(config: dict, model: str) -> bool:
    return "tuned_from" in config["models"].get(model, {})


# ------------------------------------------------------------------------------------------------
# generation shards
# ------------------------------------------------------------------------------------------------
def shard_counts(config: dict) -> dict[str, int]:
    """{benchmark: N} of the benchmarks ``generation.shards`` splits into N > 1 jobs per model."""
    check_generation_shards(config)
    shards = config["generation"].get("shards") or {}
    return {benchmark: int(count) for benchmark, count in shards.items() if int(count) > 1}


def check_shard(shard: int, shards: int) -> None:
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} does not exist: a benchmark split into {shards} has shards 0 to {shards - 1}")


def job_samples(prompts_path: str | Path, shard: int = 0, shards: int = 1) -> int:
    """Samples one generation job draws: ``n_samples`` summed over its shard's rows.

    Raises ``FileNotFoundError`` naming ``prompts_path`` while the table is not written yet;
    Snakemake then leaves the resource to be computed when the job is ready to run.
    """
    path = Path(prompts_path)
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "the prompts table is not written yet", str(prompts_path))
    check_shard(shard, shards)
    stat = path.stat()
    counts = _sample_counts(str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    return int(sum(counts[shard::shards]))


@functools.lru_cache(maxsize=64)
def _sample_counts(path: str, size: int, mtime_ns: int) -> tuple[int, ...]:
    """``n_samples`` of every row of a prompts table, read once per file version: Snakemake asks
    for it per generation job while it schedules (one read per benchmark, not per model). Reading
    the table needs pandas, imported here: only once a prompts table exists."""
    import pandas as pd

    return tuple(int(n) for n in pd.read_parquet(path, columns=["n_samples"])["n_samples"])
