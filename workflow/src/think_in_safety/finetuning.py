"""The fine-tuning table: each tuned reasoning model, untuned and after SFT on every set.

For each reasoning model of ``sft.models`` one row group: the untuned model, then the model
fine-tuned on each set of ``sft.training_sets`` (docs/study.md: R1-Onevision and LLaVA-CoT on VLGuard,
MIS, SPA-VL and TiS). Measures, per row:

* every benchmark's headline metric (as in the collapse table), paired with the untuned model
  (``comparison.compare_pair``: same prompts, paired bootstrap of the difference);
* over-refusal — the share of *safe* requests refused: in each benchmark's ``over_refusal_strata``
  the share of its ``refusal_labels`` (MSSBench's safe-image half, judge class 0, "refuses"), and
  the shipped benign-question probe (``over_refusal``; a GCG refusal string);
* thought retention — the share of benchmark responses that carry a thought, and the mean
  thought length in tokens of those that do.

CSV columns (:data:`FINETUNING_COLUMNS`), one row per (judge, reasoning model, training set,
measure). ``delta`` = tuned − untuned (NaN on the untuned row); ``improvement`` = delta signed so
that positive is better (safer, fewer over-refusals, more thought); ``significant`` = the paired
95% CI of the delta excludes 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from think_in_safety.benchmarks import REGISTRY, get_benchmark
from think_in_safety.comparison import compare_to_base, frame_to_markdown, percent
from think_in_safety.judges.rule import find_refusal
from think_in_safety.metrics import bootstrap_strata, percentile_ci, stream

FINETUNING_COLUMNS = {
    "judge": "judge identity of the measure ('' for thought retention; refusal strings for the benign probe)",
    "reasoning_model": "the reasoning model that was fine-tuned (a key of models)",
    "training_set": "training set of the row ('' for the untuned model)",
    "training_set_label": "display name of the set ('untuned' for the untuned model)",
    "evaluated_model": "the model whose responses the row measures ('<model>+<set>' for a tuned one)",
    "family": "jailbreak / awareness (benchmarks), over_refusal, thought_retention",
    "benchmark": "benchmark, 'benign_questions' (the over-refusal probe) or 'all' (thought retention)",
    "metric": "asr / safe_rate / accuracy / over_refusal / thought_share / mean_thought_tokens",
    "scope": "metric scope (overall, subset, stratum)",
    "group": "group within the scope ('' overall; MSSBench 'chat'/'embodied'; 'safe' image half)",
    "higher_is_better": "direction of the measure (True: higher is safer / fewer refusals is not it)",
    "value": "the measure (a fraction, or tokens for mean_thought_tokens)",
    "ci_low": "95% bootstrap CI, low",
    "ci_high": "95% bootstrap CI, high",
    "n": "units measured (prompts, or responses)",
    "delta": "value - the untuned model's value (NaN on the untuned row)",
    "delta_ci_low": "paired 95% bootstrap CI of delta, low",
    "delta_ci_high": "paired 95% bootstrap CI of delta, high",
    "improvement": "delta signed so that positive is better",
    "significant": "the delta CI excludes 0",
}
BENIGN_JUDGE = "refusal-strings:gcg"
BENIGN = "benign_questions"


def _estimate(values: pd.Series, n_boot: int, rng) -> tuple[float, float, float, int]:
    array = values.dropna().to_numpy(dtype=float).reshape(-1, 1)
    if not len(array):
        return np.nan, np.nan, np.nan, 0
    point, replicates = bootstrap_strata([array], n_boot, rng)
    low, high = percentile_ci(replicates)
    return float(point[0]), float(low[0]), float(high[0]), len(array)


def _paired_delta(tuned: pd.Series, untuned: pd.Series, n_boot: int, rng) -> tuple[float, float, float]:
    aligned = pd.concat([tuned.rename("t"), untuned.rename("u")], axis=1, join="outer").dropna(how="all")
    if aligned.empty:
        return np.nan, np.nan, np.nan
    point, replicates = bootstrap_strata([aligned.to_numpy(dtype=float)], n_boot, rng)
    low, high = percentile_ci((replicates[:, 0] - replicates[:, 1]).reshape(-1, 1))
    return float(point[0] - point[1]), float(low[0]), float(high[0])


def stratified_judgments(judgments: pd.DataFrame, prompts: pd.DataFrame) -> pd.DataFrame:
    """``judgments`` (with a ``benchmark`` column) and a ``stratum`` column: each row's value of its
    benchmark's ``stratum_column`` in ``prompts`` (the prompt tables of those benchmarks)."""
    if judgments.empty:
        return judgments.assign(stratum=pd.Series(dtype=str))
    parts = []
    for name, part in judgments.groupby("benchmark", sort=False):
        column = get_benchmark(name).stratum_column
        of = prompts[prompts["benchmark"] == name].drop_duplicates("id")
        strata = of.set_index("id")[column] if column and column in of.columns else pd.Series(dtype=str)
        parts.append(part.assign(stratum=part["id"].map(strata).fillna("").astype(str)))
    return pd.concat(parts, ignore_index=True)


def _unit_measures(responses: pd.DataFrame, probe: pd.DataFrame, strata: pd.DataFrame) -> dict:
    """``{(family, benchmark, metric, scope, group, judge, higher_is_better): {model: Series by unit}}``."""
    measures: dict = {}

    def add(key, frame, value):
        for model, part in frame.groupby("model"):
            measures.setdefault(key, {})[model] = pd.Series(value(part).to_numpy(dtype=float),
                                                           index=part["unit"].to_numpy())

    if not responses.empty:
        frame = responses.assign(unit=responses["benchmark"] + "|" + responses["id"] + "|"
                                 + responses["sample"].astype(str))
        add(("thought_retention", "all", "thought_share", "overall", "", "", True), frame,
            lambda p: p["has_thought"].astype(float))
        add(("thought_retention", "all", "mean_thought_tokens", "overall", "", "", True), frame,
            lambda p: p["thought_tokens"].where(p["has_thought"]).astype(float))
    if not probe.empty:
        frame = probe.assign(unit=probe["id"] + "|" + probe["sample"].astype(str))
        text = frame["answer"].where(frame["answer"].str.strip() != "", frame["raw"])
        frame = frame.assign(refused=[float(find_refusal(t) is not None) for t in text])
        add(("over_refusal", BENIGN, "over_refusal", "overall", "", BENIGN_JUDGE, False), frame,
            lambda p: p["refused"])
    stratified = [] if strata.empty else [(name, spec) for name, spec in REGISTRY.items() if spec.over_refusal_strata]
    for name, spec in stratified:
        part = strata[(strata["benchmark"] == name) & (strata["status"] == "ok")]
        for stratum in spec.over_refusal_strata:
            for judge, judged in part[part["stratum"] == stratum].groupby("judge"):
                frame = judged.assign(unit=judged["id"] + "|" + judged["sample"].astype(str))
                add(("over_refusal", name, "over_refusal", "stratum", stratum, judge, False), frame,
                    lambda p, labels=spec.refusal_labels: p["label"].astype(str).isin(labels).astype(float))
    return measures


def _headline_row(comparison: dict, model: str, training_set: str, evaluated: str, label: str, side: str) -> dict:
    """A benchmark headline row from a collapse-table comparison (tuned = 'reasoning', untuned = 'base')."""
    row = {"judge": comparison["judge"], "reasoning_model": model, "training_set": training_set,
           "training_set_label": label, "evaluated_model": evaluated, "family": comparison["family"],
           "benchmark": comparison["benchmark"], "metric": comparison["metric"], "scope": comparison["scope"],
           "group": comparison["group"], "higher_is_better": comparison["higher_is_safer"],
           "value": comparison[f"{side}_value"], "ci_low": comparison[f"{side}_ci_low"],
           "ci_high": comparison[f"{side}_ci_high"], "n": comparison[f"{side}_n"]}
    if side == "reasoning":
        sign = 1.0 if comparison["higher_is_safer"] else -1.0
        row.update(delta=comparison["delta"], delta_ci_low=comparison["delta_ci_low"],
                   delta_ci_high=comparison["delta_ci_high"], improvement=sign * comparison["delta"],
                   significant=bool(comparison["significant"]))
    return row


def finetuning_table(scores: pd.DataFrame, responses: pd.DataFrame, probe: pd.DataFrame, strata: pd.DataFrame,
                     groups: dict[str, list[tuple[str, str]]], labels: dict[str, str], n_boot: int = 1000,
                     seed: int = 0) -> pd.DataFrame:
    """The table (:data:`FINETUNING_COLUMNS`).

    ``scores``: unit scores of the untuned and tuned models; ``responses``: their benchmark
    responses with a ``benchmark`` column; ``probe``: their benign-probe responses; ``strata``:
    their judgments of the benchmarks with ``over_refusal_strata``, each row with its ``benchmark``
    and ``stratum`` (:func:`stratified_judgments`); ``groups``: reasoning model ->
    [(training set, tuned model name)]; ``labels``: training set -> display name.
    """
    rows = []
    pairs = {tuned: model for model, tuned_sets in groups.items() for _, tuned in tuned_sets}
    present = set(scores["model"]) if not scores.empty else set()
    comparable = {t: m for t, m in pairs.items() if t in present and m in present}
    collapse = compare_to_base(scores, comparable, n_boot=n_boot, seed=seed) if comparable else pd.DataFrame()
    for model, tuned_sets in groups.items():
        first = next((tuned for _, tuned in tuned_sets if tuned in comparable), None)
        if first is None:
            continue
        for comparison in collapse[collapse["reasoning_model"] == first].to_dict("records"):
            rows.append(_headline_row(comparison, model, "", model, "untuned", "base"))
        for training_set, tuned in tuned_sets:
            for comparison in collapse[collapse["reasoning_model"] == tuned].to_dict("records"):
                rows.append(_headline_row(comparison, model, training_set, tuned,
                                          labels.get(training_set, training_set), "reasoning"))
    for key, per_model in _unit_measures(responses, probe, strata).items():
        family, benchmark, metric, scope, group, judge, higher = key
        for model, tuned_sets in groups.items():
            order = [("", model, "untuned")] + [(s, t, labels.get(s, s)) for s, t in tuned_sets]
            for training_set, evaluated, label in order:
                if evaluated not in per_model:
                    continue
                values = per_model[evaluated]
                name = f"{benchmark}|{metric}|{scope}|{group}|{judge}"
                value, low, high, n = _estimate(values, n_boot, stream(seed, "finetuning", name, evaluated))
                row = {"judge": judge, "reasoning_model": model, "training_set": training_set,
                       "training_set_label": label, "evaluated_model": evaluated, "family": family,
                       "benchmark": benchmark, "metric": metric, "scope": scope, "group": group,
                       "higher_is_better": higher, "value": value, "ci_low": low, "ci_high": high, "n": n}
                if training_set and model in per_model:
                    delta, d_low, d_high = _paired_delta(values, per_model[model], n_boot,
                                                         stream(seed, "finetuning-delta", name, evaluated, model))
                    row.update(delta=delta, delta_ci_low=d_low, delta_ci_high=d_high,
                               improvement=delta if higher else -delta,
                               significant=bool(d_low > 0 or d_high < 0))
                rows.append(row)
    table = pd.DataFrame(rows, columns=list(FINETUNING_COLUMNS))
    table["significant"] = table["significant"].map(lambda value: bool(value) if value == value else False)
    return table


def _cell(row) -> str:
    if row.metric == "mean_thought_tokens":
        show = lambda v: "–" if not np.isfinite(v) else f"{v:.1f}"  # noqa: E731
    else:
        show = percent
    text = f"{show(row.value)} [{show(row.ci_low)}, {show(row.ci_high)}]"
    return text + (" *" if row.significant else "")


def to_markdown(table: pd.DataFrame) -> str:
    """One wide table per reasoning model: a row per training set, a column per measure.

    Values in % (thought length in tokens) with 95% CIs; ``*`` marks a significant change from
    the untuned model (paired CI of the difference excludes 0).
    """
    if table.empty:
        return "_no fine-tuned models_\n"
    parts = []
    for model, part in table.groupby("reasoning_model", sort=False):
        part = part.assign(column=part["benchmark"] + " " + part["metric"]
                           + np.where(part["group"] != "", " (" + part["group"] + ")", "")
                           + np.where(part["judge"] != "", " [" + part["judge"] + "]", ""))
        part = part.assign(cell=[_cell(row) for row in part.itertuples()])
        wide = part.pivot_table(index="training_set_label", columns="column", values="cell", aggfunc="first",
                                sort=False)
        wide = wide.reindex(list(dict.fromkeys(part["training_set_label"])))
        wide = wide.reset_index().rename(columns={"training_set_label": "training set"})
        parts.append(f"### {model}\n\n" + frame_to_markdown(wide.fillna("–")))
    legend = ("Values in % (mean thought length in tokens) with 95% bootstrap CIs; `*`: the paired CI of the "
              "change from the untuned model excludes 0. ASR and over-refusal: lower is better.\n\n")
    return legend + "\n".join(parts)
