"""Generation split into jobs (``generation.shards``) and merged back.

Shard ``k`` of ``N`` takes the prompt rows at positions ``k, k + N, k + 2N, ...`` of the prompts
table, every sample of a row included: each shard gets every category of the benchmark, so
the shards take about equally long. ``N`` comes from the config, so the jobs are known when the
workflow is planned, before the prompts table exists; which rows a shard takes is read from
the table when the job runs. The merged table is the unsharded one: the rows of all shards in
the order of :func:`~.generate.expand_requests` over the whole table.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

from think_in_safety.models.generate import expand_requests, order_responses

# what the Snakefile needs of the shards while it plans (no pandas there): think_in_safety.planning
from think_in_safety.planning import check_shard as _check_shard
from think_in_safety.planning import job_samples, shard_counts  # noqa: F401  (re-exported)


def shard_prompts(prompts: pd.DataFrame, shard: int, shards: int) -> pd.DataFrame:
    """The rows of shard ``shard`` of ``shards`` (all of them when ``shards`` is 1)."""
    _check_shard(shard, shards)
    return prompts.iloc[shard::shards].reset_index(drop=True)


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
            for label, found in (("duplicated", duplicated), ("not in the prompts table", foreign),
                                 ("missing", missing))
            if found
        ]
        raise ValueError(
            f"the shard tables do not cover the prompts table exactly once ({'; '.join(problems)}): they come "
            "from another prompts table or shard count; regenerate them (snakemake --forcerun generate_shard)"
        )
    settings = sorted({(str(m), str(d)) for table in shard_tables for m, d in zip(table["model"], table["decoding"])})
    if len(settings) > 1:
        found = "; ".join(f"model {m}, decoding {d} in shards {_shards_with(shard_tables, m, d)}" for m, d in settings)
        raise ValueError(
            f"the shard tables were generated with different settings ({found}), so merging them would mix "
            "samples of different runs: regenerate the shards of the older settings (snakemake --forcerun "
            "generate_shard, or delete those shard files)"
        )
    return order_responses(shard_tables, requests)


def _shards_with(tables: list[pd.DataFrame], model: str, decoding: str) -> list[int]:
    return [k for k, table in enumerate(tables)
            if ((table["model"].astype(str) == model) & (table["decoding"].astype(str) == decoding)).any()]
