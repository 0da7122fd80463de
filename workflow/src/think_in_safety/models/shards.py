"""Generation split into jobs (``generation.shards``) and merged back.

Shard ``k`` of ``N`` takes the prompt rows at positions ``k, k + N, k + 2N, ...`` of the prompts
table, every sample of a row included: each shard gets every category of the benchmark, so
the shards take about equally long. ``N`` comes from the config, so the jobs are known when the
workflow is planned, before the prompts table exists; which rows a shard takes is read from
the table when the job runs. The merged table is the unsharded one: the rows of all shards in
the order of :func:`~.generate.expand_requests` over the whole table.
"""

from __future__ import annotations

import errno
import functools
from collections import Counter
from pathlib import Path

import pandas as pd

from think_in_safety.models.generate import expand_requests, order_responses


def shard_counts(config: dict) -> dict[str, int]:
    """{benchmark: N} of the benchmarks ``generation.shards`` splits into N > 1 jobs per model."""
    shards = config["generation"].get("shards") or {}
    unknown = sorted(set(shards) - set(config["benchmarks"]))
    if unknown:
        raise ValueError(
            f"generation.shards names {unknown}, which are not keys of benchmarks "
            f"({sorted(config['benchmarks'])}): name a configured benchmark or remove the entry"
        )
    return {benchmark: int(count) for benchmark, count in shards.items() if int(count) > 1}


def _check_shard(shard: int, shards: int) -> None:
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} does not exist: a benchmark split into {shards} has shards 0 to {shards - 1}")


def shard_prompts(prompts: pd.DataFrame, shard: int, shards: int) -> pd.DataFrame:
    """The rows of shard ``shard`` of ``shards`` (all of them when ``shards`` is 1)."""
    _check_shard(shard, shards)
    return prompts.iloc[shard::shards].reset_index(drop=True)


def job_samples(prompts_path: str | Path, shard: int = 0, shards: int = 1) -> int:
    """Samples one generation job draws: ``n_samples`` summed over its shard's rows.

    Raises ``FileNotFoundError`` naming ``prompts_path`` while the table is not written yet;
    Snakemake then leaves the resource to be computed when the job is ready to run.
    """
    path = Path(prompts_path)
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "the prompts table is not written yet", str(prompts_path))
    _check_shard(shard, shards)
    stat = path.stat()
    counts = _sample_counts(str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    return int(sum(counts[shard::shards]))


@functools.lru_cache(maxsize=64)
def _sample_counts(path: str, size: int, mtime_ns: int) -> tuple[int, ...]:
    """``n_samples`` of every row of a prompts table, read once per file version: Snakemake asks
    for it per generation job while it schedules (one read per benchmark, not per model)."""
    return tuple(int(n) for n in pd.read_parquet(path, columns=["n_samples"])["n_samples"])


def merge_shards(prompts: pd.DataFrame, shard_tables: list[pd.DataFrame]) -> pd.DataFrame:
    """One responses table from the tables of every shard, as an unsharded run writes it.

    Raises ``ValueError`` when a sample is missing, duplicated, or not one of ``prompts`` (shard
    files of another prompts table or shard count).
    """
    requests = expand_requests(prompts)
    expected = {(r.id, r.sample) for r in requests}
    keys = [
        (str(i), int(s)) for table in shard_tables for i, s in zip(table["id"], table["sample"])
    ]
    duplicated = sorted(key for key, count in Counter(keys).items() if count > 1)
    foreign = sorted(set(keys) - expected)
    missing = sorted(expected - set(keys))
    if duplicated or foreign or missing:
        problems = [
            f"{label}: {len(found)} (e.g. {found[:3]})"
            for label, found in (("duplicated", duplicated), ("not in the prompts table", foreign), ("missing", missing))
            if found
        ]
        raise ValueError(
            f"the shard tables do not cover the prompts table exactly once ({'; '.join(problems)}): they come "
            "from another prompts table or shard count; regenerate them (snakemake --forcerun generate_shard)"
        )
    return order_responses(shard_tables, requests)
