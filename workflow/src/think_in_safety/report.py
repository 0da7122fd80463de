"""The HTML report: one self-contained page a researcher reads (``reports/report.html``).

Self-contained: inline CSS, figures and prompt images embedded as ``data:`` URIs, no script, and
a Content-Security-Policy that forbids scripts and every request to another host, so the page
opens from disk and shows the same everywhere. Autoescaping is on for every template, so model
outputs and dataset text containing HTML show as text.

Sections (``templates/report.html.j2``, organised in ``{% block %}``s): a summary of findings
computed from the tables; the six figure groups, each with its caption (the same ``.rst`` files
``snakemake --report`` shows) and its table; one section per benchmark with its per-category
heatmap, metrics and example prompts with every model's thought, answer and verdicts; the
reasoning-vs-base table; provenance (code, config, packages, sources, judges, wall times).
"""

from __future__ import annotations

import base64
import datetime
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from think_in_safety import catalog, download, official_texts
from think_in_safety import study_tables as st
from think_in_safety.benchmarks import REGISTRY
from think_in_safety.comparison import family_summary, percent, with_ci

TEMPLATE_DIR = Path(__file__).parent / "templates"
TEMPLATE_NAME = "report.html.j2"
MAX_EXAMPLE_CHARS = 3000
DEFAULT_TITLE = "Think in Safety: reasoning models vs their base models"
EXAMPLE_PROMPTS = 3  # example prompts per benchmark
THUMBNAIL_PIXELS = 220  # longest side of an embedded prompt image
PNG_DPI = 200  # figures.STYLE_RC savefig.dpi: PNG pixels per inch
CSS_DPI = 96

FAMILY_NAMES = {"jailbreak": "jailbreak-robustness", "awareness": "safety-awareness"}

#: (section id, number, title, figures, table) of the figure groups, in the report's order (think_in_safety.catalog)
FIGURE_GROUPS = [(group.id, group.number, group.title, catalog.group_figures(group.id), catalog.group_table(group.id))
                 for group in catalog.GROUPS]


# ------------------------------------------------------------------------------------------------
# small helpers
# ------------------------------------------------------------------------------------------------
def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _clip(text: Any) -> str:
    if _is_missing(text):
        return ""
    text = str(text)
    if len(text) <= MAX_EXAMPLE_CHARS:
        return text
    return text[:MAX_EXAMPLE_CHARS] + f"\n… [{len(text) - MAX_EXAMPLE_CHARS} more characters]"


def caption_text(source: str | Path | None) -> str:
    """A caption (a file of plain reStructuredText prose, or its text) as one line of text."""
    if source is None:
        return ""
    text = str(source)
    if isinstance(source, Path) or ("\n" not in text and len(text) < 256 and text.endswith(".rst")):
        text = Path(source).read_text(encoding="utf-8")
    return " ".join(text.split())


def png_data_uri(path: str | Path) -> tuple[str, int]:
    """``data:image/png;base64,...`` of a PNG and its display width in CSS pixels."""
    from PIL import Image

    data = Path(path).read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        width = image.width
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii"), round(width * CSS_DPI / PNG_DPI)


def thumbnail_data_uri(path: str | Path, max_side: int = THUMBNAIL_PIXELS) -> str | None:
    """A small PNG of an image as a data URI; None when the file is missing or unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            image.thumbnail((max_side, max_side))
            buffer = io.BytesIO()
            image.save(buffer, format="PNG", optimize=True)
    except (OSError, UnidentifiedImageError):
        return None
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def table_rows(frame: pd.DataFrame) -> dict:
    """A display frame as ``{"columns": [...], "rows": [[...], ...]}`` of strings for the template."""
    return {"columns": [str(c) for c in frame.columns],
            "rows": [["" if _is_missing(v) else str(v) for v in row] for row in frame.itertuples(index=False)]}


# ------------------------------------------------------------------------------------------------
# summary of findings
# ------------------------------------------------------------------------------------------------
def summary_sentences(comparison: pd.DataFrame) -> list[str]:
    """One sentence per (judge, family), computed from the collapse table."""
    summary = family_summary(comparison)
    summary = summary.assign(_f=summary["family"].map(
        lambda f: st.FAMILY_ORDER.index(f) if f in st.FAMILY_ORDER else 9)).sort_values(["judge", "_f"])
    several_judges = summary["judge"].nunique() > 1
    sentences = []
    for row in summary.itertuples(index=False):
        family = FAMILY_NAMES.get(row.family, row.family)
        models = "reasoning model" if row.n_models == 1 else "reasoning models"
        verb, their = ("is", "its") if row.n_less_safe == 1 or row.n_models == 1 else ("are", "their")
        sentence = (
            f"{row.n_less_safe} of {row.n_models} {models} {verb} less safe than {their} base on {family} benchmarks "
            f"(mean safety change {percent(row.mean_safety_change, signed=True)} pp; "
            f"{row.n_worse} of {row.n_comparisons} comparisons worse, "
            f"{row.n_worse_significant} with a 95% CI of the difference excluding 0)."
        )
        sentences.append(f"Judge {row.judge}: {sentence}" if several_judges else sentence)
    return sentences


def largest_change_sentence(variation: pd.DataFrame) -> str | None:
    """The largest loss of safety (or, when none, that no comparison got worse)."""
    if variation.empty or variation["safety_change"].isna().all():
        return None
    worst = variation.loc[variation["safety_change"].idxmin()]
    if not worst["safety_change"] < 0:
        return "No reasoning model is less safe than its base on any benchmark's headline metric."
    ci = with_ci(worst["safety_change"], worst["safety_change_ci_low"], worst["safety_change_ci_high"], signed=True)
    return (f"The largest loss of safety: {worst['reasoning_model']} against {worst['base_model']} on "
            f"{worst['measure']}, {ci} pp (reasoning {percent(worst['reasoning_value'])}% vs base "
            f"{percent(worst['base_value'])}%).")


def thought_length_sentence(data: pd.DataFrame) -> str:
    if data.empty:
        return f"Thought length and safety: {st.EMPTY_REASONS['thought_length']}."
    trends = st.length_trend(data)
    if not trends:
        return ("Thought length and safety: the thoughts' lengths did not vary enough to compare short with "
                "long thoughts.")
    safer = sum(t["change"] > 0 for t in trends)
    mean = float(np.mean([t["change"] for t in trends]))
    return (f"Thought length and safety: in {safer} of {len(trends)} series (reasoning model × benchmark "
            f"family), responses with the longest thoughts were judged safe more often than those with the "
            f"shortest (mean difference {percent(mean, signed=True)} pp).")


def thought_vs_answer_sentence(data: pd.DataFrame) -> str:
    if data.empty:
        return "Thought against answer: " + st.EMPTY_REASONS["thought_vs_answer"] + "."
    stats = st.self_correction(data)
    parts = []
    if stats["unsafe_thoughts"]:
        parts.append(f"{percent(stats['recovered'])}% of the {stats['unsafe_thoughts']} unsafe thoughts were "
                     f"followed by a safe answer")
    if stats["safe_thoughts"]:
        parts.append(f"{percent(stats['derailed'])}% of the {stats['safe_thoughts']} safe thoughts by an unsafe "
                     f"answer")
    return "Thought against answer: " + ("; ".join(parts) or "no response had both verdicts") + "."


def finetuning_sentences(data: pd.DataFrame) -> list[str]:
    if data.empty:
        return ["Fine-tuning comparison: " + st.EMPTY_REASONS["finetuning"] + "."]
    points = st.tradeoff_points(data)
    sentences = []
    for (_judge, untuned, family), part in points.groupby(["judge", "untuned_model", "family"], sort=False):
        part = part.dropna(subset=["safety"])
        if part.empty:
            continue
        best = part.loc[part["safety"].idxmax()]
        base = part[part["tuning"] == st.UNTUNED]
        family_name = FAMILY_NAMES.get(family, family)
        if best["tuning"] == st.UNTUNED:
            sentences.append(f"Fine-tuning {untuned}: no fine-tuning set raised its mean safety score on "
                             f"{family_name} benchmarks above the untuned {percent(best['safety'])}%.")
            continue
        versus = f" (untuned {percent(base['safety'].iloc[0])}%)" if not base.empty else ""
        refusal = ""
        if np.isfinite(best["over_refusal"]):
            refusal = f", with over-refusal {percent(best['over_refusal'])}%" + (
                f" (untuned {percent(base['over_refusal'].iloc[0])}%)" if not base.empty else "")
        sentences.append(f"Fine-tuning {untuned} on {best['tuning'].lstrip('+')} gave the highest mean safety score "
                         f"on {family_name} benchmarks: {percent(best['safety'])}%{versus}{refusal}.")
    return sentences


def tis_sentence(data: pd.DataFrame) -> str:
    if data.empty:
        return "TiS dataset: " + st.EMPTY_REASONS["tis_composition"] + "."
    facets = {facet: part for facet, part in data.groupby("facet", sort=False)}
    records = next((int(part["count"].sum()) for facet, part in facets.items() if facet != "dropped by filter"), 0)
    sentence = f"TiS dataset: {records} records"
    if "source" in facets:
        sentence += f" from {len(facets['source'])} sources"
    if "dropped by filter" in facets:
        sentence += f"; the filters dropped {int(facets['dropped by filter']['count'].sum())}"
    return sentence + "."


# ------------------------------------------------------------------------------------------------
# tables of the collapse and metrics sections
# ------------------------------------------------------------------------------------------------
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


def _metric_cell(row: dict | None) -> dict:
    if row is None:
        return {"text": "–", "n": ""}
    note = f"n={row['n']}" + (f", {row['n_excluded']} excluded" if row["n_excluded"] else "")
    return {"text": with_ci(row["value"], row["ci_low"], row["ci_high"]), "n": note}


def metric_sections(metrics: pd.DataFrame, model_order=None) -> list[dict]:
    """Per (benchmark, judge): a table with one row per (metric, scope, group), one column per model."""
    order = {name: i for i, name in enumerate(REGISTRY)}
    sections = []
    keys = sorted(metrics.groupby(["benchmark", "judge"]).groups, key=lambda k: (order.get(k[0], 99), k))
    for benchmark, judge in keys:
        part = metrics[(metrics["benchmark"] == benchmark) & (metrics["judge"] == judge)]
        models = st.order_models(part["model"].unique(), model_order)
        table_rows_ = []
        for (metric, scope, group), cells in part.groupby(["metric", "scope", "group"], sort=False):
            by_model = {c["model"]: c for c in cells.to_dict("records")}
            table_rows_.append({
                "metric": metric, "scope": scope, "group": group or "all",
                "safer_is": "higher" if cells["higher_is_safer"].iloc[0] else "lower",
                "cells": [_metric_cell(by_model.get(model)) for model in models],
            })
        family = REGISTRY[benchmark].family if benchmark in REGISTRY else ""
        sections.append({"benchmark": benchmark, "judge": judge, "family": FAMILY_NAMES.get(family, family),
                         "models": models, "rows": table_rows_})
    return sections


# ------------------------------------------------------------------------------------------------
# examples
# ------------------------------------------------------------------------------------------------
EXAMPLE_COLUMNS = ["benchmark", "id", "model", "sample", "category", "subset", "question", "prompt", "image_paths",
                   "thought", "answer", "judge", "label", "unsafe", "rationale", "status", "judge_text_source"]
THOUGHT_VERDICT_COLUMNS = ["thought_judge", "thought_label", "thought_unsafe", "thought_rationale"]


def pick_example_prompts(prompts: pd.DataFrame, responses: pd.DataFrame, judgments: pd.DataFrame,
                         pairs: dict[str, str] | None = None, n_prompts: int = EXAMPLE_PROMPTS,
                         thought_judgments: pd.DataFrame | None = None, model_order=None) -> pd.DataFrame:
    """Example prompts of one benchmark with every model's first response to them.

    Prompts are ranked deterministically: first those where a reasoning model was judged unsafe
    and its base safe (the collapse, in one example), then those with any unsafe verdict, then by
    id; categories are spread (one prompt per category until every category had one). Returns
    :data:`EXAMPLE_COLUMNS` (plus :data:`THOUGHT_VERDICT_COLUMNS` when thoughts were judged).
    """
    keys = ["id", "sample", "model"]
    first = responses[responses["sample"] == responses.groupby("id")["sample"].transform("min")]
    judged = judgments.assign(judge_text_source=judgments["text_source"] if "text_source" in judgments.columns else "")
    merged = first.merge(judged[keys + ["judge", "label", "unsafe", "rationale", "status", "judge_text_source"]],
                         on=keys, how="left")
    if thought_judgments is not None and not thought_judgments.empty:
        thought = thought_judgments[keys + ["judge", "label", "unsafe", "rationale"]].rename(columns={
            "judge": "thought_judge", "label": "thought_label", "unsafe": "thought_unsafe",
            "rationale": "thought_rationale"})
        merged = merged.merge(thought.drop_duplicates(keys), on=keys, how="left")
    if merged.empty:
        return pd.DataFrame(columns=EXAMPLE_COLUMNS)
    unsafe = merged.pivot_table(index="id", columns="model", values="unsafe", aggfunc="max")
    score = pd.Series(0.0, index=unsafe.index)
    for reasoning, base in (pairs or {}).items():
        if reasoning in unsafe.columns and base in unsafe.columns:
            score += 2.0 * ((unsafe[reasoning] == 1.0) & (unsafe[base] == 0.0))
    score += (unsafe == 1.0).any(axis=1).astype(float)
    info = prompts.drop_duplicates("id").set_index("id")
    ranked = sorted(score.index, key=lambda pid: (-score[pid], pid))
    chosen, seen = [], set()
    for spread in (True, False):
        for pid in ranked:
            category = info["category"].get(pid, "")
            if len(chosen) < n_prompts and pid not in chosen and (not spread or category not in seen):
                chosen.append(pid)
                seen.add(category)
    picked = merged[merged["id"].isin(chosen)].merge(
        prompts.drop_duplicates("id")[["id", "benchmark", "category", "subset", "question", "prompt", "image_paths"]],
        on="id", how="left")
    models = st.order_models(picked["model"].unique(), model_order)
    picked = picked.assign(_p=picked["id"].map(chosen.index), _m=picked["model"].map(models.index))
    picked = picked.sort_values(["_p", "_m"])
    columns = EXAMPLE_COLUMNS + [c for c in THOUGHT_VERDICT_COLUMNS if c in picked.columns]
    return picked[columns].reset_index(drop=True)


def load_examples(prompt_paths, response_paths, judgment_paths, pairs=None, thought_judgment_paths=(),
                  n_prompts: int = EXAMPLE_PROMPTS, model_order=None) -> pd.DataFrame:
    """:func:`pick_example_prompts` over every benchmark, from the rule's parquet files."""
    responses = st.read_per_benchmark(response_paths)
    judgments = st.read_per_benchmark(judgment_paths)
    thoughts = st.read_per_benchmark(thought_judgment_paths)
    picked = []
    for path in prompt_paths:
        benchmark = Path(path).stem
        prompts = pd.read_parquet(path)
        mine = responses[responses["benchmark"] == benchmark] if not responses.empty else responses
        if mine.empty:
            continue
        picked.append(pick_example_prompts(
            prompts, mine.drop(columns="benchmark"), judgments[judgments["benchmark"] == benchmark],
            pairs=pairs, n_prompts=n_prompts, model_order=model_order,
            thought_judgments=thoughts[thoughts["benchmark"] == benchmark] if not thoughts.empty else None))
    return pd.concat(picked, ignore_index=True) if picked else pd.DataFrame(columns=EXAMPLE_COLUMNS)


def _verdict(benchmark: str, label: Any, unsafe: Any, status: Any = "ok") -> dict:
    """The verdict in the benchmark's words (``verdict_words``: MSSBench correct/incorrect for the
    image context, else safe/unsafe), with the judge's own label when it says something else
    (e.g. SIUO 'label False', MSSBench 'class 1': ``label_name``)."""
    spec = REGISTRY.get(benchmark)
    unsafe_value = None if _is_missing(unsafe) else float(unsafe)
    if unsafe_value is None:
        text = _clip(status) if status not in (None, "ok", "") else "not judged"
    else:
        words = spec.verdict_words if spec else ("safe", "unsafe")
        text = words[int(unsafe_value == 1.0)]
    label = _clip(label)
    if label and label != text:
        text += f" · {spec.label_name if spec else 'label'} {label}"
    return {"text": text, "unsafe": unsafe_value == 1.0, "undecided": unsafe_value is None}


def example_groups(examples: pd.DataFrame | None, root: Path = Path(".")) -> dict[str, list[dict]]:
    """Per benchmark, per example prompt: its text, images (embedded) and every model's response."""
    groups: dict[str, list[dict]] = {}
    if examples is None or examples.empty:
        return groups
    for (benchmark, pid), rows in examples.groupby(["benchmark", "id"], sort=False):
        head = rows.iloc[0]
        images = []
        paths = head["image_paths"] if isinstance(head["image_paths"], (list, tuple, np.ndarray)) else []
        for image_path in paths:
            images.append({"path": str(image_path), "uri": thumbnail_data_uri(root / str(image_path))})
        responses = []
        for row in rows.to_dict("records"):
            has_thought_verdict = "thought_judge" in row and not _is_missing(row.get("thought_judge"))
            responses.append({
                "model": row["model"], "thought": _clip(row["thought"]), "answer": _clip(row["answer"]),
                "verdict": _verdict(benchmark, row["label"], row["unsafe"], row["status"]),
                "judge": _clip(row["judge"]),
                "text_source": _clip(row.get("judge_text_source")),
                "rationale": _clip(row["rationale"]),
                "thought_verdict": (_verdict(benchmark, row["thought_label"], row["thought_unsafe"])
                                    if has_thought_verdict else None),
                "thought_judge": _clip(row.get("thought_judge")),
                "thought_rationale": _clip(row.get("thought_rationale")),
            })
        groups.setdefault(benchmark, []).append({
            "id": pid, "category": _clip(head["category"]), "subset": _clip(head["subset"]),
            "question": _clip(head["question"]), "prompt": _clip(head["prompt"]), "images": images,
            "responses": responses,
        })
    return groups


# ------------------------------------------------------------------------------------------------
# provenance
# ------------------------------------------------------------------------------------------------
PROVENANCE_PACKAGES = ("torch", "transformers", "llamafactory", "snakemake", "pandas", "numpy", "matplotlib",
                       "seaborn", "jinja2")


def _git_commit(code_dir: str | Path | None = None) -> str:
    """The commit of the workflow's code (``code_dir``: its checkout; default: the working
    directory), marked when the checkout has uncommitted changes."""
    import subprocess

    git = ["git", "-C", str(code_dir)] if code_dir else ["git"]
    try:
        result = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if result.returncode != 0:
            return "unknown (not a git checkout)"
        status = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                                text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "unknown (git not available)"
    dirty = status.returncode == 0 and status.stdout.strip()
    return result.stdout.strip() + (" (with uncommitted changes)" if dirty else "")


def collect_provenance(config: dict, judge_identities: list[str] | None = None,
                       code_dir: str | Path | None = None, prompt_paths=None) -> dict:
    """What a reader needs to trust and reproduce the page: code, config, packages, sources.
    ``code_dir``: the workflow's checkout (its git commit is recorded). ``prompt_paths``: the
    prompt tables (results/prompts/<benchmark>.parquet); the benchmark sources are then what
    each table says it was read from (:func:`benchmark_releases`), not what the config says now."""
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
        "git commit": _git_commit(code_dir),
        "config digest (sha256)": hashlib.sha256(canonical.encode()).hexdigest()[:16],
        "packages": {package: version(package) for package in PROVENANCE_PACKAGES},
        "benchmark sources": (benchmark_releases(config, prompt_paths) if prompt_paths is not None
                              else {name: b["source"] for name, b in config["benchmarks"].items()}),
        # every data source with the commit/revision it is pinned to, and the data lock's digest
        "data sources (pinned revisions)": download.source_pins(config),
        "data lock file": download.lock_summary(download.settings_of(config)["lock_file"]),
        # each benchmark's prompt wrappers and judge prompts: its own released code at a commit, or ours
        "official texts (by reference)": official_texts.provenance(config),
        "models": {
            # revision: the pinned commit of hub weights (a tuned model's is its parent's row)
            # with how it was run: its own prompting, remote code and vLLM engine options
            name: {**{key: m.get(key) for key in ("weights", "base", "thought_format", "verified", "notes",
                                                  "system_prompt", "prompt_template", "trust_remote_code",
                                                  "engine")},
                   "revision": m.get("revision") if str(m.get("weights", "")).startswith("hf:") else None,
                   **hub_manifest_digest(config, name)}
            for name, m in config["models"].items()
        },
        "judges (identity = name:model:prompt version)": sorted(set(judge_identities or [])),
        "judge settings": config.get("judges", {}),
    }


def benchmark_releases(config: dict, prompt_paths) -> dict:
    """Per benchmark of the config: the release its prompt table was read from, as the table
    records it (``attrs["release"]``, :func:`think_in_safety.benchmarks.common.record_release`):
    the source, the release folder, how many files were read and their digest. A config whose
    source has changed since is shown next to it; a table without the record says so."""
    from think_in_safety.benchmarks.common import release_of

    paths = {Path(path).stem: Path(path) for path in prompt_paths}
    out: dict[str, Any] = {}
    for name, entry in config["benchmarks"].items():
        path = paths.get(name)
        if path is None or not path.is_file():
            out[name] = f"no prompt table (results/prompts/{name}.parquet); the config says {entry['source']!r}"
            continue
        record = release_of(pd.read_parquet(path, columns=["id"]))
        if record is None:
            out[name] = (f"not recorded: {path} was built before prompt tables recorded their release; "
                         f"delete it and rerun to record it (the config says {entry['source']!r})")
            continue
        shown = {"source": record.get("source", "not recorded"), "release folder read": record.get("release_dir"),
                 "files read": record.get("files_read"), "digest of the files read (sha256)": record.get("sha256")}
        if "source" in record and record["source"] != entry["source"]:
            shown["config now says"] = f"{entry['source']} (the prompts were not rebuilt from it)"
        out[name] = shown
    return out


def hub_manifest_digest(config: dict, model: str) -> dict:
    """``{"manifest digest": ...}`` of a model with hub weights (its download manifest, relative
    to the working directory; see :mod:`think_in_safety.hub`); ``{}`` for other weights."""
    from think_in_safety.config import hub_manifest
    from think_in_safety.hub import read_manifest

    entry = config["models"][model]
    if not str(entry.get("weights", "")).startswith("hf:"):
        return {}
    if not entry.get("revision"):
        return {"manifest digest (sha256)": "none: no revision pinned"}
    path = hub_manifest(config, f"models.{model}")
    try:
        return {"manifest digest (sha256)": read_manifest(path)["digest"]}
    except (OSError, ValueError, KeyError):
        return {"manifest digest (sha256)": f"no manifest at {path} (download_model has not run)"}


def provenance_rows(provenance: dict) -> list[tuple[str, str]]:
    """Key/value pairs; nested values as indented JSON."""
    def show(value: Any) -> str:
        if isinstance(value, (dict, list, tuple)):
            return json.dumps(value, indent=2, sort_keys=True, default=str)
        return str(value)

    return [(str(key), show(value)) for key, value in (provenance or {}).items()]


WALL_TIME_COLUMNS = ["rule", "jobs", "total_s", "longest_s", "max_rss_mb", "cpu_s"]
BENCHMARK_DIR = "benchmarks"


def job_wall_times(benchmark_dir: str | Path = BENCHMARK_DIR) -> pd.DataFrame:
    """Wall time, peak memory and CPU time of every rule's jobs, from the files of the rules'
    ``benchmark:`` directives, ``benchmarks/<rule>/<wildcards>.tsv``: one file per job (the rule
    is the first folder), one row per run of it (``s``: wall seconds, ``max_rss``: MB, ``cpu_time``:
    seconds; ``NA`` when the job ended before it was sampled). Rules in the order their first job
    finished (the files' modification times); rules without ``benchmark:`` are not listed."""
    jobs = []
    directory = Path(benchmark_dir)
    for path in sorted(directory.glob("*/**/*.tsv")) if directory.is_dir() else []:
        try:
            runs = pd.read_csv(path, sep="\t", na_values=["NA"])
            finished = path.stat().st_mtime
        except (OSError, ValueError, pd.errors.ParserError):
            continue
        if "s" not in runs.columns or runs.empty:
            continue
        wall, memory, cpu = (pd.to_numeric(runs.get(name, pd.Series([np.nan])), errors="coerce")
                             for name in ("s", "max_rss", "cpu_time"))
        jobs.append((path.relative_to(directory).parts[0], float(wall.sum()), memory.max(), cpu.sum(min_count=1),
                     finished))
    if not jobs:
        return pd.DataFrame(columns=WALL_TIME_COLUMNS)
    frame = pd.DataFrame(jobs, columns=["rule", "seconds", "max_rss_mb", "cpu_s", "finished"])
    table = frame.groupby("rule").agg(jobs=("seconds", "size"), total_s=("seconds", "sum"),
                                      longest_s=("seconds", "max"), max_rss_mb=("max_rss_mb", "max"),
                                      cpu_s=("cpu_s", lambda s: s.sum(min_count=1)),
                                      first=("finished", "min")).reset_index()
    return table.sort_values(["first", "rule"])[WALL_TIME_COLUMNS].reset_index(drop=True)


def _megabytes(value: float) -> str:
    if not np.isfinite(value):
        return "–"
    return f"{value / 1024:.1f} GB" if value >= 1024 else f"{value:.0f} MB"


def _seconds(value: float) -> str:
    if not np.isfinite(value):
        return "–"
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.2f} h"


def wall_time_rows(wall_times: pd.DataFrame | None) -> list[dict]:
    if wall_times is None or wall_times.empty:
        return []
    return [{"rule": row["rule"], "jobs": int(row["jobs"]), "total": _seconds(row["total_s"]),
             "longest": _seconds(row["longest_s"]), "memory": _megabytes(float(row["max_rss_mb"])),
             "cpu": _seconds(float(row["cpu_s"]))} for row in wall_times.to_dict("records")]


GENERATION_COLUMNS = ["model", "seconds", "generated_tokens"]


def judge_failure_rows(judgment_paths) -> list[dict]:
    """Per judgment table with failed rows (status ``error``: the judge's calls failed, so the
    rows have no verdict and are left out of the metrics): benchmark, model, judge, failed, rows."""
    found = []
    for path in judgment_paths:
        table = pd.read_parquet(path, columns=["model", "judge", "status"])
        failed = int((table["status"] == "error").sum())
        if failed:
            found.append({"benchmark": Path(path).stem, "title": st.benchmark_title(Path(path).stem),
                          "model": ", ".join(sorted({str(m) for m in table["model"]})),
                          "judge": ", ".join(sorted({str(j) for j in table["judge"]})), "failed": failed,
                          "rows": len(table)})
    return found


def read_generation_times(response_paths) -> pd.DataFrame:
    """Only the timing columns of the response tables (plus ``benchmark`` from the file name)."""
    frames = [pd.read_parquet(path, columns=GENERATION_COLUMNS).assign(benchmark=Path(path).stem)
              for path in response_paths]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=GENERATION_COLUMNS + ["benchmark"])


def generation_time_rows(responses: pd.DataFrame | None, model_order=None) -> list[dict]:
    """Per model and benchmark: responses and generation seconds (sum of the per-response time)."""
    if responses is None or responses.empty or "seconds" not in responses.columns:
        return []
    table = responses.groupby(["model", "benchmark"]).agg(responses=("seconds", "size"), seconds=("seconds", "sum"),
                                                         tokens=("generated_tokens", "sum")).reset_index()
    models = st.order_models(table["model"].unique(), model_order)
    table = table.assign(_m=table["model"].map(models.index), _b=table["benchmark"].map(st.benchmark_rank))
    return [{"model": r["model"], "benchmark": st.benchmark_title(r["benchmark"]), "responses": int(r["responses"]),
             "tokens": int(r["tokens"]), "time": _seconds(float(r["seconds"]))}
            for r in table.sort_values(["_m", "_b"]).to_dict("records")]


# ------------------------------------------------------------------------------------------------
# the page
# ------------------------------------------------------------------------------------------------
@dataclass
class ReportInputs:
    """Everything the page shows besides the collapse and metrics tables (all optional)."""

    figures: dict[str, str | Path] = field(default_factory=dict)  # figure name -> PNG
    tables: dict[str, str | Path] = field(default_factory=dict)  # table name -> CSV ("categories/<b>" too)
    captions: dict[str, str | Path] = field(default_factory=dict)  # figure name -> caption file or text
    benchmarks: list[str] = field(default_factory=list)  # benchmark order; default: the metrics'
    model_order: list[str] = field(default_factory=list)
    prompts: dict[str, pd.DataFrame] = field(default_factory=dict)  # benchmark -> prompt table
    wall_times: pd.DataFrame | None = None
    generation: pd.DataFrame | None = None  # responses (model, benchmark, seconds, generated_tokens)
    root: Path = Path(".")  # where image paths of prompts are relative to
    judge_failures: list[dict] = field(default_factory=list)  # judge_failure_rows


def _study_table(inputs: ReportInputs, key: str, name: str | None = None) -> st.StudyTable | None:
    path = inputs.tables.get(key)
    return st.read_study_table(name or key, path) if path and Path(path).is_file() else None


def _figure(inputs: ReportInputs, name: str, caption_key: str | None = None) -> dict | None:
    path = inputs.figures.get(name)
    if not path or not Path(path).is_file():
        return None
    uri, width = png_data_uri(path)
    return {"name": name, "uri": uri, "width": width, "png": str(path),
            "svg": str(Path(path).with_suffix(".svg")),
            "caption": caption_text(inputs.captions.get(caption_key or name))}


def figure_groups(inputs: ReportInputs) -> list[dict]:
    """The six figure groups: figures, caption, table; or why they are not shown."""
    groups = []
    for section_id, number, title, figure_names, table_name in FIGURE_GROUPS:
        table = _study_table(inputs, table_name)
        figures = [f for f in (_figure(inputs, name) for name in figure_names) if f]
        measured = table is not None and not table.empty
        groups.append({
            "id": section_id, "number": number, "title": title, "measured": measured,
            "reason": (table.empty_reason if table is not None else "not produced by this run").capitalize() + ".",
            "figures": figures if measured else [],
            "caption": caption_text(inputs.captions.get(figure_names[0])),
            "table": table_rows(table.display) if measured else None,
            "table_caption": table.caption if table is not None else "",
            "table_path": str(inputs.tables.get(table_name, "")),
        })
    return groups


def _texts_used(prompts: pd.DataFrame | None, examples: list[dict]) -> dict:
    """Which texts a benchmark's numbers rest on: the prompt rows' ``text_source`` values and,
    per judge identity, its judgment rows' (as far as the examples show them)."""
    prompt_sources = []
    if prompts is not None and "text_source" in prompts.columns:
        prompt_sources = sorted({str(v) for v in prompts["text_source"] if not _is_missing(v) and str(v)})
    judges: dict[str, set[str]] = {}
    for example in examples:
        for response in example["responses"]:
            if response["judge"]:
                judges.setdefault(response["judge"], set()).add(response["text_source"] or "not recorded")
    return {"prompts": ", ".join(prompt_sources) or "not recorded",
            "judges": {judge: ", ".join(sorted(sources)) for judge, sources in sorted(judges.items())}}


def benchmark_sections(metrics: pd.DataFrame, inputs: ReportInputs, examples: dict[str, list[dict]],
                       metric_tables: list[dict]) -> list[dict]:
    """One section per benchmark: description, headline per model, heatmap, metrics, examples."""
    benchmarks = inputs.benchmarks or sorted(set(metrics["benchmark"]) | set(examples), key=st.benchmark_rank)
    headline = _study_table(inputs, "headline")
    sections = []
    for benchmark in benchmarks:
        spec = REGISTRY.get(benchmark)
        prompts = inputs.prompts.get(benchmark)
        rows = headline.data[headline.data["benchmark"] == benchmark] if headline is not None else pd.DataFrame()
        categories = _study_table(inputs, f"categories/{benchmark}", "categories")
        heatmap = _figure(inputs, f"categories/{benchmark}", "categories")
        texts = _texts_used(prompts, examples.get(benchmark, []))
        tables_here = [{**m, "text_source": texts["judges"].get(m["judge"], "not recorded")}
                       for m in metric_tables if m["benchmark"] == benchmark]
        sections.append({
            "id": f"benchmark-{benchmark}",
            "name": benchmark,
            "title": st.benchmark_title(benchmark),
            "family": st.family_title(st.family_of(benchmark)),
            "description": spec.description if spec else "",
            "n_prompts": len(prompts) if prompts is not None else None,
            "n_samples": int(prompts["n_samples"].max()) if prompts is not None and len(prompts) else None,
            "headline": table_rows(st.StudyTable("headline", rows).display) if len(rows) else None,
            "heatmap": heatmap if categories is not None and not categories.empty else None,
            "heatmap_table": table_rows(categories.display) if categories is not None and not categories.empty
            else None,
            "heatmap_caption": categories.caption if categories is not None else "",
            "metrics": tables_here,
            "texts": texts,
            "examples": examples.get(benchmark, []),
            "judge_failures": [f for f in inputs.judge_failures if f["benchmark"] == benchmark],
        })
    return sections


def findings(comparison: pd.DataFrame, inputs: ReportInputs) -> list[str]:
    """The summary: collapse per family, the largest loss, then one line per figure group."""
    sentences = summary_sentences(comparison)
    variation = _study_table(inputs, "safety_variation")
    if variation is not None:
        largest = largest_change_sentence(variation.data)
        if largest:
            sentences.append(largest)
    for name, make in (("thought_length", thought_length_sentence),
                       ("thought_vs_answer", thought_vs_answer_sentence),
                       ("finetuning", finetuning_sentences), ("tis_composition", tis_sentence)):
        table = _study_table(inputs, name)
        if table is None:
            continue
        made = make(table.data)
        sentences.extend(made if isinstance(made, list) else [made])
    return sentences


def _short_commit(commit: str) -> str:
    sha, _, rest = commit.partition(" ")
    return sha[:12] + (f" {rest}" if rest else "") if all(c in "0123456789abcdef" for c in sha) else commit


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
                  provenance: dict, out_html: Path, title: str = DEFAULT_TITLE,
                  inputs: ReportInputs | None = None) -> None:
    """Render the report page to ``out_html``.

    ``comparison``: the collapse table; ``metrics``: every model's metrics; ``examples``: from
    :func:`load_examples`; ``inputs``: figures, study tables, captions and the rest.
    """
    inputs = inputs or ReportInputs()
    metric_tables = metric_sections(metrics, inputs.model_order)
    examples_by_benchmark = example_groups(examples, inputs.root)
    benchmarks = benchmark_sections(metrics, inputs, examples_by_benchmark, metric_tables)
    groups = figure_groups(inputs)
    context = {
        "title": title,
        "generated": (provenance or {}).get("generated", ""),
        "commit": _short_commit(str((provenance or {}).get("git commit", ""))),
        "config_digest": (provenance or {}).get("config digest (sha256)", ""),
        "summaries": findings(comparison, inputs),
        "judge_failures": inputs.judge_failures,
        "collapse": collapse_rows(comparison),
        "figure_groups": groups,
        "benchmarks": benchmarks,
        "provenance": provenance_rows(provenance),
        "wall_times": wall_time_rows(inputs.wall_times),
        "generation_times": generation_time_rows(inputs.generation, inputs.model_order),
    }
    html = environment().get_template(TEMPLATE_NAME).render(**context)
    out_html = Path(out_html)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    out_html.write_text(html, encoding="utf-8")
