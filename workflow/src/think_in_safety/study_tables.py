"""The tables behind the study's figures, each written as CSV, Markdown and LaTeX (booktabs).

Every figure of ``figures.py`` is drawn from one of these tables, so a number in a figure is
always a number of a file a reader can open. Each builder returns a :class:`StudyTable`:
``data`` (machine-readable: fractions, full precision; the CSV) and ``display`` (strings for
people: percent with 95% CIs; the Markdown and LaTeX).

1. :func:`safety_variation` — every reasoning model's change in safety against its base, per
   benchmark headline metric, with the paired-bootstrap CI (from the collapse table);
2. :func:`headline` — every model's headline metric on every benchmark with its CI, and
   :func:`categories` — one benchmark's metric per model and category (the heatmaps);
3. :func:`thought_length` — judged safety binned by thought length (tokens);
4. :func:`thought_vs_answer` — how often an unsafe thought precedes a safe answer and the reverse
   (needs a judge with ``judge_target: thought``);
5. :func:`finetuning` — untuned vs fine-tuned variants (``<model>+<set>``): safety beside
   over-refusal, from the fine-tuning comparison of ``finetuning.py``;
6. :func:`tis_composition` — the TiS dataset card: sources, categories, decisions, filter drops.

"Safety" of a response: the benchmark's judge says safe (``unsafe == 0``). MSSBench judgments
mean *correct for the image context*; on its safe-image half a "wrong" answer is a refusal or a
needless warning, i.e. over-refusal, not a safety failure, so the response-level tables (3, 4)
leave MSSBench's safe-image prompts out; over-refusal is measured by the fine-tuning comparison
(``finetuning.py``: refusals on MSSBench's safe-image half and on a probe of benign questions).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from think_in_safety.benchmarks import FAMILIES, REGISTRY
from think_in_safety.comparison import display_table, frame_to_markdown, percent, with_ci

FAMILY_ORDER = FAMILIES
FAMILY_TITLES = {"jailbreak": "jailbreak robustness", "awareness": "safety awareness"}
METRIC_TITLES = {
    "asr": "ASR",
    "safe_rate": "safe rate",
    "accuracy": "accuracy",
    "safe_image_accuracy": "safe-image accuracy",
    "unsafe_image_accuracy": "unsafe-image accuracy",
    "over_refusal": "over-refusal",
}

UNTUNED = "untuned"

#: why a table can be empty: shown in its Markdown and in the report instead of a figure
EMPTY_REASONS = {
    "safety_variation": "no reasoning model with a base model in this configuration (models.<name>.base)",
    "headline": "no metrics yet",
    "categories": "this benchmark has no per-category breakdown",
    "thought_length": "no model wrote a thought (every model has thought_format: none)",
    "thought_vs_answer": (
        "not measured: no judge with judge_target: thought in this configuration, so thoughts "
        "were not judged (add one under judges and the figure appears)"
    ),
    "finetuning": (
        "not run in this configuration: no model is fine-tuned (sft.models and sft.training_sets; "
        "fine-tuned models are named <model>+<set>)"
    ),
    "tis_composition": "not run in this configuration: no TiS dataset card (results/tis/dataset_card.json)",
}

WILSON_Z = 1.959963984540054  # two-sided 95%


@dataclass
class StudyTable:
    """A table of the study. ``data`` is the table (the CSV); Markdown, LaTeX and the report's
    HTML show :attr:`display`, which is computed from ``data`` alone, so a table read back from
    its CSV (:func:`read_study_table`) displays exactly as when it was written."""

    name: str
    data: pd.DataFrame

    @property
    def empty(self) -> bool:
        return self.data.empty

    @property
    def display(self) -> pd.DataFrame:
        if self.data.empty:
            return pd.DataFrame()
        return DISPLAYS[self.name](self.data)

    @property
    def caption(self) -> str:
        caption = CAPTIONS[self.name]
        return caption(self.data) if callable(caption) else caption

    @property
    def empty_reason(self) -> str:
        return EMPTY_REASONS.get(self.name, "no data")

    def write(self, csv_path: str | Path, md_path: str | Path, tex_path: str | Path) -> None:
        """CSV (data), Markdown and LaTeX booktabs (display); an empty table says why."""
        for path in (csv_path, md_path, tex_path):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.data.to_csv(csv_path, index=False)
        if self.data.empty:
            Path(md_path).write_text(f"_{self.caption}: {self.empty_reason}._\n", encoding="utf-8")
            Path(tex_path).write_text(f"% {self.caption}: {self.empty_reason}.\n", encoding="utf-8")
            return
        display = self.display
        Path(md_path).write_text(f"**{self.caption}**\n\n" + frame_to_markdown(display), encoding="utf-8")
        Path(tex_path).write_text(to_latex(display, self.caption, f"tab:{self.name}"), encoding="utf-8")


#: text columns that a CSV round trip would turn from '' into NaN
TEXT_COLUMNS = ("group", "bin_label", "item", "judge", "model", "measure", "facet")


def read_study_table(name: str, csv_path: str | Path) -> StudyTable:
    """A study table read back from its CSV."""
    frame = pd.read_csv(csv_path)
    for column in TEXT_COLUMNS:
        if column in frame.columns:
            frame[column] = frame[column].fillna("").astype(str)
    return StudyTable(name, frame)


# ------------------------------------------------------------------------------------------------
# names
# ------------------------------------------------------------------------------------------------
def benchmark_title(benchmark: str) -> str:
    spec = REGISTRY.get(benchmark)
    return spec.title if spec else benchmark


def family_of(benchmark: str) -> str:
    spec = REGISTRY.get(benchmark)
    return spec.family if spec else ""


def family_title(family: str) -> str:
    return FAMILY_TITLES.get(family, family)


def benchmark_rank(benchmark: str) -> int:
    """Registry order (jailbreak benchmarks first); unknown benchmarks last."""
    names = list(REGISTRY)
    return names.index(benchmark) if benchmark in names else len(names)


def measure_label(benchmark: str, metric: str, group: str = "") -> str:
    """``"MSSBench accuracy (chat)"``: what a number measures, for axes and table headers."""
    label = f"{benchmark_title(benchmark)} {METRIC_TITLES.get(metric, metric)}"
    return f"{label} ({group})" if group else label


def direction_mark(higher_is_safer: bool) -> str:
    return "↑" if higher_is_safer else "↓"


def order_models(models, model_order=None) -> list[str]:
    """``models`` in the config's order (``model_order``), unknown ones after it, sorted."""
    order = {name: i for i, name in enumerate(model_order or [])}
    return sorted(dict.fromkeys(models), key=lambda m: (order.get(m, len(order)), m))


def split_tuned(model: str) -> tuple[str, str] | None:
    """``("r1-onevision", "tis")`` for a fine-tuned model ``"r1-onevision+tis"``; None otherwise."""
    if "+" not in model:
        return None
    untuned, dataset = model.rsplit("+", 1)
    return (untuned, dataset) if untuned and dataset else None


def _is_nan(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _ci_text(value, low, high, signed=False) -> str:
    return with_ci(value, low, high, signed=signed) if not _is_nan(value) else "–"


# ------------------------------------------------------------------------------------------------
# LaTeX
# ------------------------------------------------------------------------------------------------
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "–": "--", "—": "---", "↑": r"$\uparrow$", "↓": r"$\downarrow$", "×": r"$\times$", "→": r"$\rightarrow$",
}


def latex_escape(text) -> str:
    """``text`` with LaTeX's special characters escaped (and a few Unicode signs as math)."""
    return "".join(_LATEX_SPECIAL.get(char, char) for char in str(text))


_NUMBER = re.compile(r"^([-+]?\d|–$)")


def to_latex(frame: pd.DataFrame, caption: str, label: str) -> str:
    """A booktabs ``table`` environment; columns holding numbers are right-aligned."""
    align = "".join("r" if frame[c].astype(str).str.match(_NUMBER).all() else "l" for c in frame.columns)
    lines = [
        r"% needs \usepackage{booktabs}",
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        rf"\caption{{{latex_escape(caption)}}}",
        rf"\label{{{label}}}",
        rf"\begin{{tabular}}{{{align}}}",
        r"\toprule",
        " & ".join(latex_escape(c) for c in frame.columns) + r" \\",
        r"\midrule",
    ]
    lines += [" & ".join(latex_escape(v) for v in row) + r" \\" for row in frame.itertuples(index=False)]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


def collapse_to_latex(comparison: pd.DataFrame) -> str:
    """The collapse table (``comparison.compare_to_base``) as one booktabs table per judge."""
    parts = []
    for judge, part in comparison.groupby("judge", sort=True):
        parts.append(to_latex(display_table(part), f"Reasoning models against their base models (judge {judge}): "
                              "values in %, differences in percentage points, 95% CIs", f"tab:collapse-{judge}"))
    return "\n".join(parts) if parts else "% no comparisons\n"


def metrics_to_latex(metrics: pd.DataFrame) -> str:
    """Every model's metrics (``metrics.METRIC_COLUMNS``) as one booktabs table per benchmark."""
    parts = []
    for benchmark, part in metrics.groupby("benchmark", sort=False):
        shown = pd.DataFrame({
            "model": part["model"], "judge": part["judge"], "metric": part["metric"], "scope": part["scope"],
            "group": part["group"].fillna(""),
            "value % [95% CI]": [with_ci(*v) for v in zip(part["value"], part["ci_low"], part["ci_high"])],
            "n": part["n"], "excluded": part["n_excluded"],
        })
        parts.append(to_latex(shown, f"{benchmark_title(benchmark)}: every model's metrics (%, 95% bootstrap CI)",
                              f"tab:metrics-{benchmark}"))
    return "\n".join(parts) if parts else "% no metrics\n"


# ------------------------------------------------------------------------------------------------
# 1. safety variation
# ------------------------------------------------------------------------------------------------
SAFETY_VARIATION_COLUMNS = [
    "judge", "family", "benchmark", "metric", "group", "measure", "reasoning_model", "base_model",
    "higher_is_safer", "base_value", "reasoning_value", "safety_change", "safety_change_ci_low",
    "safety_change_ci_high", "significant", "paired_units",
]


def _family_rank(family: str) -> int:
    return FAMILY_ORDER.index(family) if family in FAMILY_ORDER else len(FAMILY_ORDER)


def safety_variation(comparison: pd.DataFrame, model_order=None) -> StudyTable:
    """Safety change (reasoning - base, signed so that negative = less safe) with its CI.

    ``comparison``: the collapse table (``comparison.compare_to_base``). The CI of the safety
    change is the paired-bootstrap CI of the delta, mirrored for metrics where lower is safer.
    """
    if comparison.empty:
        return StudyTable("safety_variation", pd.DataFrame(columns=SAFETY_VARIATION_COLUMNS))
    table = comparison.copy()
    table["group"] = table["group"].fillna("").astype(str)
    higher = table["higher_is_safer"].astype(bool).to_numpy()
    table["safety_change_ci_low"] = np.where(higher, table["delta_ci_low"], -table["delta_ci_high"])
    table["safety_change_ci_high"] = np.where(higher, table["delta_ci_high"], -table["delta_ci_low"])
    table["measure"] = [measure_label(b, m, g) for b, m, g in zip(table["benchmark"], table["metric"], table["group"])]
    models = order_models(table["reasoning_model"], model_order)
    table = table.assign(_f=table["family"].map(_family_rank), _b=table["benchmark"].map(benchmark_rank),
                         _m=table["reasoning_model"].map(models.index))
    table = table.sort_values(["judge", "_f", "_b", "group", "_m"], kind="stable")
    return StudyTable("safety_variation", table[SAFETY_VARIATION_COLUMNS].reset_index(drop=True))


def _safety_variation_display(data: pd.DataFrame) -> pd.DataFrame:
    several_judges = data["judge"].nunique() > 1
    rows = []
    for (judge, family, measure), part in data.groupby(["judge", "family", "measure"], sort=False):
        row = {"judge": judge} if several_judges else {}
        row.update({"family": family_title(family), "measure": measure})
        for item in part.to_dict("records"):
            text = _ci_text(item["safety_change"], item["safety_change_ci_low"], item["safety_change_ci_high"], True)
            row[f"{item['reasoning_model']} vs {item['base_model']}"] = text + ("*" if item["significant"] else "")
        rows.append(row)
    return pd.DataFrame(rows).fillna("–")


# ------------------------------------------------------------------------------------------------
# 2. every model on every benchmark; per-category breakdown
# ------------------------------------------------------------------------------------------------
HEADLINE_COLUMNS = [
    "judge", "family", "benchmark", "measure", "metric", "scope", "group", "model", "value", "ci_low",
    "ci_high", "n", "n_excluded", "higher_is_safer",
]


def _clean_metrics(metrics: pd.DataFrame) -> pd.DataFrame:
    metrics = metrics.copy()
    metrics["group"] = metrics["group"].fillna("").astype(str)
    metrics["higher_is_safer"] = metrics["higher_is_safer"].astype(bool)
    return metrics


def headline(metrics: pd.DataFrame, model_order=None) -> StudyTable:
    """Every model's headline metric(s) on every benchmark, with 95% CIs (``metrics.METRIC_COLUMNS`` in)."""
    metrics = _clean_metrics(metrics)
    keep = []
    for row in metrics[["benchmark", "metric", "scope", "group"]].itertuples(index=False):
        spec = REGISTRY.get(row.benchmark)
        keep.append(spec is not None and (row.metric, row.scope, row.group) in spec.headline)
    table = metrics[np.array(keep, dtype=bool)].copy()
    if table.empty:
        return StudyTable("headline", pd.DataFrame(columns=HEADLINE_COLUMNS))
    table["family"] = table["benchmark"].map(family_of)
    table["measure"] = [measure_label(b, m, g) for b, m, g in zip(table["benchmark"], table["metric"], table["group"])]
    models = order_models(table["model"], model_order)
    table = table.assign(_b=table["benchmark"].map(benchmark_rank), _m=table["model"].map(models.index))
    table = table.sort_values(["judge", "_b", "group", "_m"], kind="stable")
    return StudyTable("headline", table[HEADLINE_COLUMNS].reset_index(drop=True))


def _pivot_by_model(data: pd.DataFrame, column_of, text_of, keys=("model",)) -> pd.DataFrame:
    """One display row per (judge, *keys) in data order, one column per ``column_of(row)``."""
    several_judges = data["judge"].nunique() > 1
    rows = {}
    for item in data.to_dict("records"):
        key = (item["judge"], *(item[k] for k in keys))
        row = rows.setdefault(key, {**({"judge": item["judge"]} if several_judges else {}),
                                    **{k: item[k] for k in keys}})
        row[column_of(item)] = text_of(item)
    return pd.DataFrame(list(rows.values())).fillna("–")


def _headline_display(data: pd.DataFrame) -> pd.DataFrame:
    return _pivot_by_model(
        data, lambda r: f"{r['measure']} {direction_mark(bool(r['higher_is_safer']))}",
        lambda r: _ci_text(r["value"], r["ci_low"], r["ci_high"]))


CATEGORY_COLUMNS = ["judge", "benchmark", "metric", "scope", "group", "model", "value", "ci_low", "ci_high", "n",
                    "higher_is_safer"]
#: the scope a heatmap breaks a benchmark down by, first one present wins
CATEGORY_SCOPES = ("category", "subset_category", "subset")


def categories(metrics: pd.DataFrame, benchmark: str, model_order=None) -> StudyTable:
    """One benchmark's primary metric per model and category (MSSBench: per setting/category)."""
    metrics = _clean_metrics(metrics)
    part = metrics[metrics["benchmark"] == benchmark]
    spec = REGISTRY.get(benchmark)
    metric = spec.metric.name if spec else (part["metric"].iloc[0] if len(part) else "")
    part = part[part["metric"] == metric]
    scope = next((s for s in CATEGORY_SCOPES if (part["scope"] == s).any()), None)
    if scope is None:
        return StudyTable("categories", pd.DataFrame(columns=CATEGORY_COLUMNS))
    part = part[part["scope"] == scope]
    models = order_models(part["model"], model_order)
    part = part.assign(_m=part["model"].map(models.index)).sort_values(["judge", "_m", "group"])
    return StudyTable("categories", part[CATEGORY_COLUMNS].reset_index(drop=True))


def _categories_display(data: pd.DataFrame) -> pd.DataFrame:
    return _pivot_by_model(data, lambda r: r["group"], lambda r: percent(r["value"]))


def _categories_caption(data: pd.DataFrame) -> str:
    if data.empty:
        return "Metric per model and category (%)"
    metric = METRIC_TITLES.get(data["metric"].iloc[0], data["metric"].iloc[0])
    direction = "higher" if bool(data["higher_is_safer"].iloc[0]) else "lower"
    return (f"{benchmark_title(data['benchmark'].iloc[0])}: {metric} per model and category "
            f"(%; {direction} is safer; 95% CIs in the CSV)")


# ------------------------------------------------------------------------------------------------
# response-level inputs (3, 4)
# ------------------------------------------------------------------------------------------------
def read_per_benchmark(paths) -> pd.DataFrame:
    """Concatenate ``results/<stage>/.../<benchmark>.parquet`` files, adding ``benchmark`` from
    the file name when the table has no such column."""
    frames = []
    for path in paths:
        frame = pd.read_parquet(path)
        if "benchmark" not in frame.columns:
            frame = frame.assign(benchmark=Path(path).stem)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def safety_rows(frame: pd.DataFrame, prompts: pd.DataFrame | None) -> pd.DataFrame:
    """``frame`` without the prompts where "unsafe" means over-refusal: those of a benchmark's
    ``over_refusal_strata`` (MSSBench's safe-image prompts), read from its ``stratum_column``."""
    if prompts is None or prompts.empty:
        return frame
    specs = [spec for spec in REGISTRY.values() if spec.over_refusal_strata and spec.stratum_column in prompts.columns]
    columns = list(dict.fromkeys(spec.stratum_column for spec in specs))
    if not columns:
        return frame
    strata = prompts[["benchmark", "id", *columns]].drop_duplicates(["benchmark", "id"])
    merged = frame.merge(strata, on=["benchmark", "id"], how="left")
    drop = np.zeros(len(merged), dtype=bool)
    for spec in specs:
        stratum = merged[spec.stratum_column].isin(spec.over_refusal_strata)
        drop |= ((merged["benchmark"] == spec.name) & stratum).to_numpy()
    return merged[~drop].drop(columns=columns).reset_index(drop=True)


def wilson_interval(successes, n) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score 95% interval of a binomial proportion (NaN where n = 0)."""
    successes = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = successes / n
        denominator = 1 + WILSON_Z**2 / n
        centre = (p + WILSON_Z**2 / (2 * n)) / denominator
        half = WILSON_Z * np.sqrt(p * (1 - p) / n + WILSON_Z**2 / (4 * n**2)) / denominator
    low, high = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    return np.where(n > 0, low, np.nan), np.where(n > 0, high, np.nan)


def judged(judgments: pd.DataFrame) -> pd.DataFrame:
    """Judgment rows with a decision (status ok, unsafe 0/1)."""
    unsafe = pd.to_numeric(judgments["unsafe"], errors="coerce")
    return judgments[(judgments["status"] == "ok") & unsafe.notna()].assign(unsafe=unsafe)


# ------------------------------------------------------------------------------------------------
# 3. thought length vs safety
# ------------------------------------------------------------------------------------------------
THOUGHT_LENGTH_COLUMNS = [
    "judge", "family", "model", "bin", "bin_label", "tokens_min", "tokens_max", "tokens_median", "n", "n_safe",
    "safe_share", "ci_low", "ci_high",
]


def _length_bins(tokens: pd.Series, n_bins: int) -> pd.Series:
    """Equal-count bins of ``tokens`` (1-based codes); fewer bins when values repeat."""
    edges = np.unique(np.quantile(tokens.to_numpy(dtype=float), np.linspace(0, 1, n_bins + 1)))
    if len(edges) < 2:
        return pd.Series(1, index=tokens.index)
    codes = pd.cut(tokens, bins=edges, include_lowest=True, labels=False, duplicates="drop")
    return codes.astype(int) + 1


def thought_length(responses: pd.DataFrame, judgments: pd.DataFrame, prompts: pd.DataFrame | None = None,
                   n_bins: int = 4, model_order=None) -> StudyTable:
    """Share of responses judged safe per thought-length bin, per model and benchmark family.

    Models that never wrote a thought are left out, and so are fine-tuned variants
    (``<model>+<dataset>``: the fine-tuning comparison shows them). Within each (judge, family,
    model), responses with a thought are cut into ``n_bins`` equal-count bins of
    ``thought_tokens``; responses without a thought form bin 0. CIs: Wilson 95% per bin.
    """
    empty = StudyTable("thought_length", pd.DataFrame(columns=THOUGHT_LENGTH_COLUMNS))
    if responses.empty or judgments.empty:
        return empty
    keys = ["benchmark", "id", "sample", "model"]
    rows = responses[keys + ["thought_tokens", "has_thought"]].merge(
        judged(judgments)[keys + ["judge", "unsafe"]], on=keys, how="inner")
    rows = safety_rows(rows, prompts)
    thinkers = rows.groupby("model")["has_thought"].any()
    rows = rows[rows["model"].isin(thinkers[thinkers].index) & rows["model"].map(lambda m: split_tuned(m) is None)]
    if rows.empty:
        return empty
    rows = rows.assign(family=rows["benchmark"].map(family_of), safe=1.0 - rows["unsafe"],
                       thought_tokens=rows["thought_tokens"].astype(float))
    out = []
    for (judge, family, model), part in rows.groupby(["judge", "family", "model"]):
        has = part["has_thought"].astype(bool) & (part["thought_tokens"] > 0)
        bins = pd.Series(0, index=part.index)
        if has.any():
            bins[has] = _length_bins(part.loc[has, "thought_tokens"], n_bins)
        for code, members in part.groupby(bins):
            tokens = members["thought_tokens"]
            low, high = int(tokens.min()), int(tokens.max())
            label = "no thought" if code == 0 else (f"{low}" if low == high else f"{low}–{high}")
            out.append({"judge": judge, "family": family, "model": model, "bin": int(code), "bin_label": label,
                        "tokens_min": low, "tokens_max": high, "tokens_median": float(tokens.median()),
                        "n": len(members), "n_safe": int(members["safe"].sum())})
    data = pd.DataFrame(out, columns=THOUGHT_LENGTH_COLUMNS)
    data["safe_share"] = data["n_safe"] / data["n"]
    data["ci_low"], data["ci_high"] = wilson_interval(data["n_safe"], data["n"])
    models = order_models(data["model"], model_order)
    data = data.assign(_f=data["family"].map(_family_rank), _m=data["model"].map(models.index))
    data = data.sort_values(["judge", "_m", "_f", "bin"]).drop(columns=["_f", "_m"]).reset_index(drop=True)
    return StudyTable("thought_length", data)


def _thought_length_display(data: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        **({"judge": data["judge"]} if data["judge"].nunique() > 1 else {}),
        "model": data["model"],
        "family": data["family"].map(family_title),
        "thought tokens": data["bin_label"],
        "responses": data["n"],
        "judged safe % [95% CI]": [_ci_text(*v) for v in zip(data["safe_share"], data["ci_low"], data["ci_high"])],
    })


def length_trend(data: pd.DataFrame) -> list[dict]:
    """Per (judge, model, family): safe share in the shortest vs the longest thought bin
    (series with fewer than two thought bins are left out)."""
    trends = []
    thought_bins = data[data["bin"] > 0]
    for (judge, model, family), part in thought_bins.groupby(["judge", "model", "family"], sort=False):
        if part["bin"].nunique() < 2:
            continue
        short, long = part.loc[part["bin"].idxmin()], part.loc[part["bin"].idxmax()]
        trends.append({"judge": judge, "family": family, "model": model, "short_label": short["bin_label"],
                       "short_share": float(short["safe_share"]), "long_label": long["bin_label"],
                       "long_share": float(long["safe_share"]),
                       "change": float(long["safe_share"] - short["safe_share"])})
    return trends


# ------------------------------------------------------------------------------------------------
# 4. thought vs answer
# ------------------------------------------------------------------------------------------------
THOUGHT_ANSWER_CELLS = {
    "both_safe": "safe thought, safe answer",
    "unsafe_thought_safe_answer": "unsafe thought, safe answer",
    "safe_thought_unsafe_answer": "safe thought, unsafe answer",
    "both_unsafe": "unsafe thought, unsafe answer",
}
THOUGHT_VS_ANSWER_COLUMNS = (["thought_judge", "answer_judge", "family", "benchmark", "model", "n"]
                             + [f"n_{c}" for c in THOUGHT_ANSWER_CELLS] + ["n_thought_unjudged"])


def thought_vs_answer(answer_judgments: pd.DataFrame, thought_judgments: pd.DataFrame,
                      prompts: pd.DataFrame | None = None, model_order=None) -> StudyTable:
    """Counts of the four (thought, answer) verdict combinations per model and benchmark.

    ``thought_judgments``: judgments by a judge with ``judge_target: thought``; ``answer_judgments``:
    the benchmark's own judge on the same responses. A response counts when both verdicts are
    decided; ``n_thought_unjudged`` counts responses whose thought got no verdict (e.g. no thought).
    """
    empty = StudyTable("thought_vs_answer", pd.DataFrame(columns=THOUGHT_VS_ANSWER_COLUMNS))
    if answer_judgments.empty or thought_judgments.empty:
        return empty
    keys = ["benchmark", "id", "sample", "model"]
    answers = judged(answer_judgments)[keys + ["judge", "unsafe"]].rename(
        columns={"judge": "answer_judge", "unsafe": "answer_unsafe"})
    thoughts = thought_judgments[keys + ["judge", "unsafe", "status"]].rename(
        columns={"judge": "thought_judge", "unsafe": "thought_unsafe"})
    thoughts = thoughts.assign(thought_unsafe=pd.to_numeric(thoughts["thought_unsafe"], errors="coerce"))
    rows = safety_rows(answers.merge(thoughts, on=keys, how="inner"), prompts)
    if rows.empty:
        return empty
    decided = (rows["status"] == "ok") & rows["thought_unsafe"].notna()
    t, a = rows["thought_unsafe"] == 1.0, rows["answer_unsafe"] == 1.0
    rows = rows.assign(
        n_both_safe=(decided & ~t & ~a).astype(int),
        n_unsafe_thought_safe_answer=(decided & t & ~a).astype(int),
        n_safe_thought_unsafe_answer=(decided & ~t & a).astype(int),
        n_both_unsafe=(decided & t & a).astype(int),
        n_thought_unjudged=(~decided).astype(int),
        n=decided.astype(int),
    )
    counts = [c for c in THOUGHT_VS_ANSWER_COLUMNS if c.startswith("n")]
    data = rows.groupby(["thought_judge", "answer_judge", "benchmark", "model"], as_index=False)[counts].sum()
    data["family"] = data["benchmark"].map(family_of)
    models = order_models(data["model"], model_order)
    data = data.assign(_b=data["benchmark"].map(benchmark_rank), _m=data["model"].map(models.index))
    data = data.sort_values(["thought_judge", "_m", "_b"]).reset_index(drop=True)
    return StudyTable("thought_vs_answer", data[THOUGHT_VS_ANSWER_COLUMNS])


def _thought_vs_answer_display(data: pd.DataFrame) -> pd.DataFrame:
    def share(count, n):
        return percent(count / n) if n else "–"

    return pd.DataFrame({
        **({"thought judge": data["thought_judge"]} if data["thought_judge"].nunique() > 1 else {}),
        "model": data["model"],
        "benchmark": data["benchmark"].map(benchmark_title),
        "responses": data["n"],
        **{f"{label} %": [share(c, n) for c, n in zip(data[f"n_{cell}"], data["n"])]
           for cell, label in THOUGHT_ANSWER_CELLS.items()},
        "thought not judged": data["n_thought_unjudged"],
    })


def self_correction(data: pd.DataFrame) -> dict:
    """Pooled over models and benchmarks: of the unsafe thoughts, the share followed by a safe
    answer; of the safe thoughts, the share followed by an unsafe answer."""
    sums = data[[f"n_{c}" for c in THOUGHT_ANSWER_CELLS]].sum()
    unsafe_thoughts = sums["n_unsafe_thought_safe_answer"] + sums["n_both_unsafe"]
    safe_thoughts = sums["n_both_safe"] + sums["n_safe_thought_unsafe_answer"]
    return {
        "n": int(sums.sum()),
        "unsafe_thoughts": int(unsafe_thoughts),
        "safe_thoughts": int(safe_thoughts),
        "recovered": float(sums["n_unsafe_thought_safe_answer"] / unsafe_thoughts) if unsafe_thoughts else np.nan,
        "derailed": float(sums["n_safe_thought_unsafe_answer"] / safe_thoughts) if safe_thoughts else np.nan,
    }


# ------------------------------------------------------------------------------------------------
# 5. fine-tuning comparison
# ------------------------------------------------------------------------------------------------
FINETUNING_COLUMNS = [
    "judge", "untuned_model", "model", "tuning", "kind", "family", "benchmark", "measure", "metric", "group",
    "value", "ci_low", "ci_high", "higher_is_safer", "safety_score", "delta", "delta_ci_low", "delta_ci_high",
    "significant",
]
#: measures of the fine-tuning comparison that the figure shows, by its ``metric`` column
FINETUNING_KINDS = {"over_refusal": "over_refusal", "thought_share": "thought_retention",
                    "mean_thought_tokens": "thought_retention"}
#: fine-tuning measures in tokens, not fractions
TOKEN_METRICS = {"mean_thought_tokens"}
def _over_refusal_source(row: dict) -> str:
    """What an over-refusal row measures: the benign-question probe, or a benchmark's stratum."""
    if row["benchmark"] not in REGISTRY:
        return row["benchmark"].replace("_", " ")  # benign_questions: "benign questions"
    return f"{benchmark_title(row['benchmark'])} {row['group']} images"


def _finetuning_measure(row: dict) -> str:
    if row["metric"] == "over_refusal":
        return f"over-refusal: {_over_refusal_source(row)}"
    if row["metric"] == "thought_share":
        return "responses with a thought"
    if row["metric"] == "mean_thought_tokens":
        return "mean thought length"
    return measure_label(row["benchmark"], row["metric"], row["group"])


def finetuning(comparison: pd.DataFrame, model_order=None) -> StudyTable:
    """The fine-tuning comparison (``finetuning.finetuning_table``: results/tables/sft_comparison.csv)
    arranged for the figure: each reasoning model untuned and fine-tuned on each set, every
    headline safety metric, over-refusal and the share of responses with a thought, with CIs and
    whether the change from the untuned model is significant (paired CI). Empty when nothing was
    fine-tuned."""
    empty = StudyTable("finetuning", pd.DataFrame(columns=FINETUNING_COLUMNS))
    if comparison is None or comparison.empty:
        return empty
    table = comparison.copy()
    for column in ("judge", "training_set", "training_set_label", "group"):
        table[column] = table[column].fillna("").astype(str)
    safety = table["family"].isin(FAMILY_ORDER)
    table = table[safety | table["metric"].isin(list(FINETUNING_KINDS))].copy()
    if table.empty:
        return empty
    table["kind"] = np.where(table["family"].isin(FAMILY_ORDER), "safety", table["metric"].map(FINETUNING_KINDS))
    table["family"] = np.where(table["kind"] == "safety", table["family"], "")
    table["measure"] = [_finetuning_measure(row) for row in table.to_dict("records")]
    safety_judges = table.loc[table["kind"] == "safety", "judge"].unique()
    if len(safety_judges) > 1:  # one column per judge when several judged the benchmarks
        table.loc[table["kind"] == "safety", "measure"] += " [" + table["judge"] + "]"
    table["untuned_model"] = table["reasoning_model"]
    table["model"] = table["evaluated_model"]
    table["tuning"] = [UNTUNED if not ts else "+" + (label or ts)
                       for ts, label in zip(table["training_set"], table["training_set_label"])]
    table["higher_is_safer"] = table["higher_is_better"].astype(bool)
    table["safety_score"] = np.where(table["kind"] == "safety",
                                     np.where(table["higher_is_safer"], table["value"], 1 - table["value"]), np.nan)
    table["significant"] = table["significant"].fillna(False).astype(bool)
    untuned_order = order_models(table["untuned_model"], model_order)
    kinds = ["safety", "over_refusal", "thought_retention"]
    table = table.assign(_u=table["untuned_model"].map(untuned_order.index),
                         _t=[0 if t == UNTUNED else 1 for t in table["tuning"]],
                         _k=table["kind"].map(kinds.index), _b=table["benchmark"].map(benchmark_rank))
    table = table.sort_values(["_u", "_t", "_k", "_b", "group"], kind="stable")
    return StudyTable("finetuning", table[FINETUNING_COLUMNS].reset_index(drop=True))


def _finetuning_display(data: pd.DataFrame) -> pd.DataFrame:
    rows = {}
    for item in data.to_dict("records"):
        row = rows.setdefault((item["untuned_model"], item["tuning"]),
                              {"model": item["untuned_model"], "tuning": item["tuning"]})
        column = f"{item['measure']} {direction_mark(bool(item['higher_is_safer']))}"
        if item["metric"] in TOKEN_METRICS:
            column = f"{item['measure']} (tokens)"
            text = "–" if _is_nan(item["value"]) else (
                f"{item['value']:.1f} [{item['ci_low']:.1f}, {item['ci_high']:.1f}]")
        else:
            text = _ci_text(item["value"], item["ci_low"], item["ci_high"])
        row[column] = text + ("*" if item["significant"] else "")
    return pd.DataFrame(list(rows.values())).fillna("–")


def tradeoff_points(finetuning_data: pd.DataFrame) -> pd.DataFrame:
    """Per (judge, model, benchmark family): mean safety score of the family's headline metrics,
    and mean over-refusal over the over-refusal measures."""
    columns = ["judge", "untuned_model", "model", "tuning", "family", "safety", "over_refusal"]
    if finetuning_data.empty:
        return pd.DataFrame(columns=columns)
    keys = ["untuned_model", "model", "tuning"]
    safety = (finetuning_data[finetuning_data["kind"] == "safety"]
              .groupby(["judge", *keys, "family"], sort=False)["safety_score"].mean().rename("safety").reset_index())
    refusal = (finetuning_data[finetuning_data["kind"] == "over_refusal"]
               .groupby(keys, sort=False)["value"].mean().rename("over_refusal").reset_index())
    return safety.merge(refusal, on=keys, how="left")[columns]


# ------------------------------------------------------------------------------------------------
# 6. TiS dataset composition
# ------------------------------------------------------------------------------------------------
TIS_COLUMNS = ["facet", "item", "count", "share"]
#: card keys shown as facets, in this order, with their titles; other count maps follow
TIS_FACETS = {
    "sources": "source",
    "categories": "category",
    "decisions": "decision",
    "filter_drops": "dropped by filter",
}


def _counts(value) -> dict[str, int] | None:
    """A ``{name: count}`` map from a card value: a dict of numbers or a list of {name, count}."""
    if isinstance(value, dict) and value and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                 for v in value.values()):
        return {str(k): int(v) for k, v in value.items()}
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        name_key = next((k for k in ("name", "item", "source", "category", "reason") if k in value[0]), None)
        if name_key and "count" in value[0]:
            return {str(v[name_key]): int(v["count"]) for v in value}
    return None


def tis_composition(card: dict | None) -> StudyTable:
    """The dataset card as a long table: one row per (facet, item) with count and share.

    Facets: every ``{name: count}`` map of the card (top level or under ``composition``) — the
    known ones (:data:`TIS_FACETS`) first. Shares are within a facet.
    """
    empty = StudyTable("tis_composition", pd.DataFrame(columns=TIS_COLUMNS))
    if not card:
        return empty
    sections = dict(card)
    if isinstance(card.get("composition"), dict):
        sections = {**sections, **card["composition"]}
    facets = {}
    for key in list(TIS_FACETS) + sorted(k for k in sections if k not in TIS_FACETS):
        counts = _counts(sections.get(key))
        if counts:
            facets[TIS_FACETS.get(key, key.replace("_", " "))] = counts
    rows = []
    for facet, counts in facets.items():
        total = sum(counts.values())
        for item, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            rows.append({"facet": facet, "item": item, "count": count, "share": count / total if total else np.nan})
    return StudyTable("tis_composition", pd.DataFrame(rows, columns=TIS_COLUMNS)) if rows else empty


def _tis_display(data: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"facet": data["facet"], "item": data["item"], "records": data["count"],
                         "share %": [percent(s) for s in data["share"]]})


# ------------------------------------------------------------------------------------------------
# registry
# ------------------------------------------------------------------------------------------------
DISPLAYS = {
    "safety_variation": _safety_variation_display,
    "headline": _headline_display,
    "categories": _categories_display,
    "thought_length": _thought_length_display,
    "thought_vs_answer": _thought_vs_answer_display,
    "finetuning": _finetuning_display,
    "tis_composition": _tis_display,
}
CAPTIONS = {
    "safety_variation": ("Change in safety of each reasoning model against its base model (percentage points, "
                         "95% paired-bootstrap CI; negative: less safe; * the CI excludes 0)"),
    "headline": "Headline metric of every model on every benchmark (%, 95% bootstrap CI; ↓ lower is safer, "
                "↑ higher is safer)",
    "categories": _categories_caption,
    "thought_length": ("Responses judged safe by thought length (tokens), per reasoning model and benchmark "
                       "family (%, Wilson 95% CI)"),
    "thought_vs_answer": ("Thought verdict against answer verdict per reasoning model and benchmark (% of the "
                          "responses with both verdicts)"),
    "finetuning": ("Fine-tuning comparison: safety, over-refusal and thoughts of each model untuned and "
                   "fine-tuned (%, 95% CI; ↓ lower is better, ↑ higher is better; * the paired CI of the "
                   "change from the untuned model excludes 0)"),
    "tis_composition": ("TiS dataset composition: records per source, category and decision, and records dropped "
                        "by each filter"),
}
