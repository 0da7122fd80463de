"""The HTML report: one self-contained page (inline CSS, no external requests).

Autoescaping is on, so model outputs containing HTML are shown as text. The template
(``templates/report.html.j2``) is organised in ``{% block %}`` sections (summary, collapse,
metrics, examples, provenance) that later templates can extend or override.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from think_in_safety.comparison import family_summary, percent, with_ci
from think_in_safety.metrics import BENCHMARK_METRICS

TEMPLATE_DIR = Path(__file__).parent / "templates"
TEMPLATE_NAME = "report.html.j2"
MAX_EXAMPLE_CHARS = 3000
DEFAULT_TITLE = "Think in Safety: reasoning models vs their base models"

FAMILY_NAMES = {"jailbreak": "jailbreak-robustness", "awareness": "safety-awareness"}

EXAMPLE_COLUMNS = ["benchmark", "model", "id", "thought", "answer", "label", "rationale"]
EXAMPLE_OPTIONAL = ["sample", "question", "prompt", "unsafe", "status", "judge"]


# ------------------------------------------------------------------------------------------------
# context pieces
# ------------------------------------------------------------------------------------------------
def summary_sentences(comparison: pd.DataFrame) -> list[str]:
    """One sentence per (judge, family), computed from the collapse table."""
    summary = family_summary(comparison)
    several_judges = summary["judge"].nunique() > 1
    sentences = []
    for row in summary.itertuples(index=False):
        family = FAMILY_NAMES.get(row.family, row.family)
        models = "reasoning model is" if row.n_models == 1 else "reasoning models are"
        their = "its" if row.n_models == 1 else "their"
        sentence = (
            f"{row.n_less_safe} of {row.n_models} {models} less safe than {their} base on {family} benchmarks "
            f"(mean safety change {percent(row.mean_safety_change, signed=True)} pp; "
            f"{row.n_worse} of {row.n_comparisons} comparisons worse, "
            f"{row.n_worse_significant} with a 95% CI of the difference excluding 0)."
        )
        sentences.append(f"Judge {row.judge}: {sentence}" if several_judges else sentence)
    return sentences


def _direction(safety_change: float) -> str:
    if safety_change is None or not math.isfinite(safety_change):
        return "unknown"
    return "worse" if safety_change < 0 else "better" if safety_change > 0 else "same"


def collapse_rows(comparison: pd.DataFrame) -> list[dict]:
    """The collapse table as display rows (percent strings + a direction for colouring)."""
    rows = []
    for row in comparison.to_dict("records"):
        rows.append({
            "judge": row["judge"],
            "family": FAMILY_NAMES.get(row["family"], row["family"]),
            "reasoning_model": row["reasoning_model"],
            "base_model": row["base_model"],
            "benchmark": row["benchmark"],
            "metric": row["metric"] + (f" ({row['group']})" if row["group"] else ""),
            "safer_is": "higher" if row["higher_is_safer"] else "lower",
            "base": with_ci(row["base_value"], row["base_ci_low"], row["base_ci_high"]),
            "reasoning": with_ci(row["reasoning_value"], row["reasoning_ci_low"], row["reasoning_ci_high"]),
            "delta": with_ci(row["delta"], row["delta_ci_low"], row["delta_ci_high"], signed=True),
            "safety_change": percent(row["safety_change"], signed=True),
            "direction": _direction(row["safety_change"]),
            "significant": bool(row["significant"]),
            "paired_units": row["paired_units"],
        })
    return rows


def metric_sections(metrics: pd.DataFrame) -> list[dict]:
    """Per (benchmark, judge): a table with one row per (metric, scope, group), one column per model."""
    order = {name: i for i, name in enumerate(BENCHMARK_METRICS)}
    sections = []
    keys = sorted(metrics.groupby(["benchmark", "judge"]).groups, key=lambda k: (order.get(k[0], 99), k))
    for benchmark, judge in keys:
        part = metrics[(metrics["benchmark"] == benchmark) & (metrics["judge"] == judge)]
        models = sorted(part["model"].unique())
        table_rows = []
        for (metric, scope, group), cells in part.groupby(["metric", "scope", "group"], sort=False):
            by_model = {c["model"]: c for c in cells.to_dict("records")}
            table_rows.append({
                "metric": metric, "scope": scope, "group": group or "all",
                "safer_is": "higher" if cells["higher_is_safer"].iloc[0] else "lower",
                "cells": [_metric_cell(by_model.get(model)) for model in models],
            })
        family = BENCHMARK_METRICS[benchmark].family if benchmark in BENCHMARK_METRICS else ""
        sections.append({"benchmark": benchmark, "judge": judge, "family": FAMILY_NAMES.get(family, family),
                         "models": models, "rows": table_rows})
    return sections


def _metric_cell(row: dict | None) -> dict:
    if row is None:
        return {"text": "–", "n": ""}
    note = f"n={row['n']}" + (f", {row['n_excluded']} excluded" if row["n_excluded"] else "")
    return {"text": with_ci(row["value"], row["ci_low"], row["ci_high"]), "n": note}


def _clip(text: Any) -> str:
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    text = str(text)
    if len(text) <= MAX_EXAMPLE_CHARS:
        return text
    return text[:MAX_EXAMPLE_CHARS] + f"\n… [{len(text) - MAX_EXAMPLE_CHARS} more characters]"


def example_rows(examples: pd.DataFrame | None) -> list[dict]:
    """Examples as dicts of (clipped) strings; requires :data:`EXAMPLE_COLUMNS`."""
    if examples is None or examples.empty:
        return []
    missing = [c for c in EXAMPLE_COLUMNS if c not in examples.columns]
    if missing:
        raise ValueError(f"examples are missing columns {missing}; expected {EXAMPLE_COLUMNS}")
    rows = []
    for row in examples.to_dict("records"):
        shown = {column: _clip(row.get(column)) for column in EXAMPLE_COLUMNS + EXAMPLE_OPTIONAL}
        shown["is_unsafe"] = row.get("unsafe") == 1.0
        rows.append(shown)
    return rows


def provenance_rows(provenance: dict) -> list[tuple[str, str]]:
    """Key/value pairs; nested values as indented JSON."""
    def show(value: Any) -> str:
        if isinstance(value, (dict, list, tuple)):
            return json.dumps(value, indent=2, sort_keys=True, default=str)
        return str(value)

    return [(str(key), show(value)) for key, value in (provenance or {}).items()]


def pick_examples(prompts: pd.DataFrame, responses: pd.DataFrame, judgments: pd.DataFrame,
                  per_model: int = 2) -> pd.DataFrame:
    """A few example rows of one benchmark for the report: per model, unsafe-judged responses
    first, then by id (deterministic). Returns :data:`EXAMPLE_COLUMNS` plus sample, question, unsafe,
    status, judge."""
    merged = responses.merge(judgments, on=["id", "sample", "model"], how="inner").merge(
        prompts[["id", "benchmark", "question", "prompt"]], on="id", how="left")
    merged = merged.assign(_order=merged["unsafe"].fillna(-1.0)).sort_values(
        ["model", "_order", "id", "sample"], ascending=[True, False, True, True])
    picked = merged.groupby("model", sort=True).head(per_model)
    return picked[EXAMPLE_COLUMNS + EXAMPLE_OPTIONAL].reset_index(drop=True)


# ------------------------------------------------------------------------------------------------
# rendering
# ------------------------------------------------------------------------------------------------
def environment() -> jinja2.Environment:
    """The Jinja2 environment of the report templates (autoescape on for every template)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_report(comparison: pd.DataFrame, metrics: pd.DataFrame, examples: pd.DataFrame | None,
                  provenance: dict, out_html: Path, title: str = DEFAULT_TITLE) -> None:
    """Render the report page to ``out_html``."""
    context = {
        "title": title,
        "summaries": summary_sentences(comparison),
        "collapse": collapse_rows(comparison),
        "metric_sections": metric_sections(metrics),
        "examples": example_rows(examples),
        "provenance": provenance_rows(provenance),
    }
    html = environment().get_template(TEMPLATE_NAME).render(**context)
    out_html = Path(out_html)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    out_html.write_text(html, encoding="utf-8")


# ------------------------------------------------------------------------------------------------
# provenance and inputs of the report rule
# ------------------------------------------------------------------------------------------------
PROVENANCE_PACKAGES = ("torch", "transformers", "llamafactory", "snakemake", "pandas", "numpy")


def _git_commit() -> str:
    import subprocess

    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown (git not available)"
    return result.stdout.strip() if result.returncode == 0 else "unknown (not a git checkout)"


def collect_provenance(config: dict, judge_identities: list[str] | None = None) -> dict:
    """What a reader needs to trust and reproduce the page: code, config, packages, sources."""
    import datetime
    import hashlib
    from importlib import metadata

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    canonical = json.dumps(config, sort_keys=True, default=str)
    return {
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git commit": _git_commit(),
        "config digest (sha256)": hashlib.sha256(canonical.encode()).hexdigest()[:16],
        "packages": {package: version(package) for package in PROVENANCE_PACKAGES},
        "benchmark sources": {name: b["source"] for name, b in config["benchmarks"].items()},
        "models": {
            name: {key: m.get(key) for key in ("weights", "base", "thought_format", "verified", "notes")}
            for name, m in config["models"].items()
        },
        "judges": sorted(set(judge_identities or [])),
    }


def load_examples(prompt_paths, response_paths, judgment_paths, per_model: int = 2) -> pd.DataFrame:
    """:func:`pick_examples` over every benchmark, from the rule's parquet files."""
    def by_benchmark(paths):
        return {Path(path).stem: pd.read_parquet(path) for path in paths}

    prompts = by_benchmark(prompt_paths)
    picked = []
    for benchmark, frame in prompts.items():
        responses = pd.concat([pd.read_parquet(p) for p in response_paths if Path(p).stem == benchmark])
        judgments = pd.concat([pd.read_parquet(p) for p in judgment_paths if Path(p).stem == benchmark])
        picked.append(pick_examples(frame, responses, judgments, per_model=per_model))
    return pd.concat(picked, ignore_index=True) if picked else None
