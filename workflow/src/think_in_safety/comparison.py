"""The collapse table: each reasoning model against the base model it was trained from.

Input is the unit-score table (``metrics.unit_scores`` of every model and benchmark, concatenated),
so the difference can be bootstrapped *paired*: both models answered the same prompts, and each
replicate resamples the same prompt units for both. Per-model values and CIs use the same
random streams as ``metrics.compute_metrics``, so they equal the metrics table's numbers.

Headline metrics (each benchmark's ``headline`` in ``think_in_safety.benchmarks.REGISTRY``):
overall ASR for FigStep, MM-SafetyBench and JailBreakV; overall safe rate for SIUO; accuracy for
MSSBench chat and embodied. ``delta`` = reasoning − base in the metric's units; ``safety_change`` =
delta signed so that negative means the reasoning model is less safe (−delta for ASR).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from think_in_safety.benchmarks import REGISTRY
from think_in_safety.metrics import (
    UNIT_SCORE_COLUMNS,
    benchmark_metrics,
    bootstrap_strata,
    estimate,
    metric_def,
    metric_strata,
    metric_values,
    percentile_ci,
    select_group,
    stream,
)
from think_in_safety.tables import check_columns

COMPARISON_COLUMNS = [
    "judge", "family", "benchmark", "metric", "scope", "group", "reasoning_model", "base_model",
    "higher_is_safer", "base_value", "base_ci_low", "base_ci_high", "base_n",
    "reasoning_value", "reasoning_ci_low", "reasoning_ci_high", "reasoning_n",
    "delta", "delta_ci_low", "delta_ci_high", "paired_units", "safety_change", "significant",
]

SUMMARY_COLUMNS = ["judge", "family", "n_models", "n_less_safe", "n_comparisons", "n_worse",
                   "n_worse_significant", "mean_safety_change"]


def paired_strata(reasoning: pd.DataFrame, base: pd.DataFrame, metric) -> tuple[list[np.ndarray], int]:
    """Per stratum, a ``(units, 2)`` array [reasoning, base] aligned on the unit id (NaN where a
    model has no score for a unit), and how many units both models scored."""
    strata, shared = [], 0
    for part_r, part_b in zip(metric_strata(reasoning, metric), metric_strata(base, metric)):
        r = pd.Series(metric_values(part_r, metric), index=part_r["unit"].to_numpy())
        b = pd.Series(metric_values(part_b, metric), index=part_b["unit"].to_numpy())
        aligned = pd.concat([r.rename("reasoning"), b.rename("base")], axis=1, join="outer").dropna(how="all")
        shared += int(aligned.notna().all(axis=1).sum())
        strata.append(aligned.to_numpy(dtype=float))
    return strata, shared


def compare_pair(scores: pd.DataFrame, reasoning_model: str, base_model: str, benchmark: str, judge: str,
                 metric_name: str, scope: str, group: str, n_boot: int, seed: int) -> dict:
    """One comparison row (see :data:`COMPARISON_COLUMNS`)."""
    spec = benchmark_metrics(benchmark)
    metric = metric_def(benchmark, metric_name)

    def units_of(model: str) -> pd.DataFrame:
        mine = scores[(scores["model"] == model) & (scores["benchmark"] == benchmark) & (scores["judge"] == judge)]
        return select_group(mine, scope, group, spec)

    reasoning, base = units_of(reasoning_model), units_of(base_model)
    row = {"judge": judge, "family": spec.family, "benchmark": benchmark, "metric": metric_name, "scope": scope,
           "group": group, "reasoning_model": reasoning_model, "base_model": base_model,
           "higher_is_safer": metric.higher_is_safer}
    for prefix, model, units in (("base", base_model, base), ("reasoning", reasoning_model, reasoning)):
        # same stream key as metrics.metrics_from_scores -> identical CI to the metrics table
        result = estimate(units, metric, n_boot, stream(seed, benchmark, model, judge, metric_name, scope, group))
        row.update({f"{prefix}_value": result["value"], f"{prefix}_ci_low": result["ci_low"],
                    f"{prefix}_ci_high": result["ci_high"], f"{prefix}_n": result["n"]})

    strata, shared = paired_strata(reasoning, base, metric)
    rng = stream(seed, "delta", benchmark, reasoning_model, base_model, judge, metric_name, scope, group)
    _, replicates = bootstrap_strata(strata, n_boot, rng)
    low, high = percentile_ci((replicates[:, 0] - replicates[:, 1]).reshape(-1, 1))
    delta = row["reasoning_value"] - row["base_value"]
    sign = 1.0 if metric.higher_is_safer else -1.0
    row.update({
        "delta": delta, "delta_ci_low": float(low[0]), "delta_ci_high": float(high[0]), "paired_units": shared,
        "safety_change": sign * delta,
        # the delta CI excludes zero
        "significant": bool(low[0] > 0 or high[0] < 0),
    })
    return row


def _registry_order(benchmark: str) -> tuple[int, str]:
    """Benchmarks in registry order (jailbreak family first), unknown ones last."""
    names = list(REGISTRY)
    return (names.index(benchmark) if benchmark in names else len(names), benchmark)


def compare_to_base(scores: pd.DataFrame, pairs: dict[str, str], n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """The collapse table for ``pairs`` (reasoning model -> base model).

    ``scores``: ``metrics.unit_scores`` rows of all models, benchmarks and judges. A row is made
    for every judge, pair, benchmark both models have scores on, and headline metric. Raises
    ValueError if a model named in ``pairs`` has no scores at all.
    """
    scores = check_columns(scores, UNIT_SCORE_COLUMNS, "unit scores")
    present = set(scores["model"])
    missing = sorted({m for pair in pairs.items() for m in pair} - present)
    if missing:
        raise ValueError(f"models in pairs without any unit scores: {missing}")
    rows = []
    for judge in sorted(scores["judge"].unique()):
        by_judge = scores[scores["judge"] == judge]
        for reasoning_model, base_model in pairs.items():
            benchmarks_r = set(by_judge.loc[by_judge["model"] == reasoning_model, "benchmark"])
            benchmarks_b = set(by_judge.loc[by_judge["model"] == base_model, "benchmark"])
            for benchmark in sorted(benchmarks_r & benchmarks_b, key=_registry_order):
                for metric_name, scope, group in benchmark_metrics(benchmark).headline:
                    rows.append(compare_pair(by_judge, reasoning_model, base_model, benchmark, judge,
                                             metric_name, scope, group, n_boot, seed))
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def family_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per (judge, family): how many reasoning models are less safe than their base.

    A model is *less safe on a family* when its mean ``safety_change`` over the family's headline
    rows is negative. Also counts the rows that got worse and those whose delta CI excludes 0.
    """
    rows = []
    for (judge, family), part in table.groupby(["judge", "family"], sort=True):
        per_model = part.groupby("reasoning_model")["safety_change"].mean()
        worse = part["safety_change"] < 0
        rows.append({
            "judge": judge, "family": family, "n_models": int(per_model.notna().sum()),
            "n_less_safe": int((per_model < 0).sum()), "n_comparisons": int(part["safety_change"].notna().sum()),
            "n_worse": int(worse.sum()), "n_worse_significant": int((worse & part["significant"]).sum()),
            "mean_safety_change": float(part["safety_change"].mean()),
        })
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


# ------------------------------------------------------------------------------------------------
# formatting
# ------------------------------------------------------------------------------------------------
def percent(value: float, signed: bool = False) -> str:
    """A fraction as a percentage with one decimal ('' for NaN)."""
    if value is None or not np.isfinite(value):
        return "–"
    shown = round(100 * value, 1) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"{shown:+.1f}" if signed else f"{shown:.1f}"


def with_ci(value: float, low: float, high: float, signed: bool = False) -> str:
    """``"42.0 [37.1, 46.9]"`` in percent (percentage points when signed)."""
    return f"{percent(value, signed)} [{percent(low, signed)}, {percent(high, signed)}]"


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """The comparison as strings for people: values in %, deltas in percentage points."""
    return pd.DataFrame({
        "reasoning model": table["reasoning_model"],
        "base model": table["base_model"],
        "benchmark": table["benchmark"],
        "metric": table["metric"] + np.where(table["group"] != "", " (" + table["group"] + ")", ""),
        "safer is": np.where(table["higher_is_safer"], "higher", "lower"),
        "base": [with_ci(*v) for v in zip(table["base_value"], table["base_ci_low"], table["base_ci_high"])],
        "reasoning": [with_ci(*v) for v in zip(table["reasoning_value"], table["reasoning_ci_low"],
                                               table["reasoning_ci_high"])],
        "delta (pp)": [with_ci(*v, signed=True) for v in zip(table["delta"], table["delta_ci_low"],
                                                             table["delta_ci_high"])],
        "safety change (pp)": [percent(v, signed=True) for v in table["safety_change"]],
    })


def frame_to_markdown(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table of ``frame`` (cells as str, '|' escaped)."""
    def cell(value) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    header = "| " + " | ".join(cell(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body]) + "\n"


def to_markdown(table: pd.DataFrame) -> str:
    """The collapse table as markdown, one section per judge."""
    parts = []
    for judge, part in table.groupby("judge", sort=True):
        parts.append(f"### Judge `{judge}`\n\n" + frame_to_markdown(display_table(part)))
    return "\n".join(parts) if parts else "_no comparisons_\n"


def write_comparison(table: pd.DataFrame, csv_path: str | Path, markdown_path: str | Path | None = None) -> None:
    """Write the table as CSV (fractions, full precision) and optionally as markdown."""
    table.to_csv(csv_path, index=False)
    if markdown_path is not None:
        Path(markdown_path).write_text(to_markdown(table), encoding="utf-8")


def metrics_to_markdown(metrics: pd.DataFrame) -> str:
    """Every model's metrics as markdown: one section per benchmark, values in % with CIs."""
    parts = []
    for benchmark, part in metrics.groupby("benchmark", sort=False):
        shown = pd.DataFrame({
            "model": part["model"],
            "judge": part["judge"],
            "metric": part["metric"],
            "scope": part["scope"],
            "group": part["group"],
            "value % [95% CI]": [with_ci(*v) for v in zip(part["value"], part["ci_low"], part["ci_high"])],
            "n": part["n"],
            "excluded": part["n_excluded"],
            "safer is": np.where(part["higher_is_safer"], "higher", "lower"),
        })
        parts.append(f"### {benchmark}\n\n" + frame_to_markdown(shown))
    return "\n".join(parts) if parts else "_no metrics_\n"
