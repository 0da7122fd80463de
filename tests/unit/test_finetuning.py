"""think_in_safety.finetuning: the fine-tuning table from unit scores, responses and judgments."""

import numpy as np
import pandas as pd
import pytest

from think_in_safety import finetuning
from think_in_safety.metrics import unit_scores
from think_in_safety.tables import JUDGMENT_COLUMNS, PROMPT_COLUMNS

N = 40
JUDGE = "rule:refusal-v1"


def _prompts(benchmark):
    rows = []
    for i in range(N):
        row = {column: "" for column in PROMPT_COLUMNS}
        context = ("safe" if i % 2 else "unsafe") if benchmark == "mssbench" else ""
        row.update(id=f"{benchmark}/{i}", benchmark=benchmark, subset="chat" if benchmark == "mssbench" else "x",
                   category="c", image_paths=[], n_samples=1, image_context=context)
        rows.append(row)
    return pd.DataFrame(rows)


def _judgments(model, benchmark, unsafe, labels=None):
    return pd.DataFrame({"id": [f"{benchmark}/{i}" for i in range(N)], "sample": 0, "model": model, "judge": JUDGE,
                         "label": labels if labels is not None else "", "unsafe": unsafe, "rationale": "",
                         "status": "ok", "text_source": "none"})[list(JUDGMENT_COLUMNS)]


@pytest.fixture(scope="module")
def table():
    scores, mss = [], []
    # jailbreakv: untuned and +b always unsafe, +a never
    for model, unsafe in (("m", 1.0), ("m+a", 0.0), ("m+b", 1.0)):
        scores.append(unit_scores(_prompts("jailbreakv"), _judgments(model, "jailbreakv", unsafe), "jailbreakv"))
    # mssbench: m answers everything (class 2); m+a refuses everything (class 0); m+b like m
    prompts = _prompts("mssbench")
    for model, label in (("m", "2"), ("m+a", "0"), ("m+b", "2")):
        correct = np.where(prompts["image_context"] == "safe", label in "23", label in "01")
        judged = _judgments(model, "mssbench", (~correct).astype(float), labels=label)
        scores.append(unit_scores(prompts, judged, "mssbench"))
        mss.append(judged.assign(benchmark="mssbench"))
    responses = pd.concat([pd.DataFrame({
        "benchmark": "jailbreakv", "id": [f"jailbreakv/{i}" for i in range(N)], "sample": 0, "model": model,
        "has_thought": has, "thought_tokens": np.where(has, tokens, 0)})
        for model, has, tokens in (("m", True, 50), ("m+a", True, 20), ("m+b", False, 0))], ignore_index=True)
    probe = pd.concat([pd.DataFrame({
        "id": [f"benign_questions/{i}" for i in range(10)], "sample": 0, "model": model, "answer": answer,
        "raw": answer}) for model, answer in (("m", "Here you go."), ("m+a", "I'm sorry, I can't."),
                                              ("m+b", ""))], ignore_index=True)
    probe.loc[probe["model"] == "m+b", "raw"] = "<think>I cannot help with that"  # empty answer: judge the raw text
    strata = finetuning.stratified_judgments(pd.concat(mss, ignore_index=True), prompts)
    assert set(strata["stratum"]) == {"safe", "unsafe"}
    return finetuning.finetuning_table(pd.concat(scores, ignore_index=True), responses, probe, strata,
                                       groups={"m": [("a", "m+a"), ("b", "m+b")]}, labels={"a": "Set A"},
                                       n_boot=200, seed=0)


def _row(table, evaluated, benchmark, metric, group=""):
    part = table[(table["evaluated_model"] == evaluated) & (table["benchmark"] == benchmark)
                 & (table["metric"] == metric) & (table["group"] == group)]
    assert len(part) == 1, part
    return part.iloc[0]


def test_columns_and_rows(table):
    assert list(table.columns) == list(finetuning.FINETUNING_COLUMNS)
    assert list(dict.fromkeys(table["training_set_label"])) == ["untuned", "Set A", "b"]
    untuned = table[table["training_set"] == ""]
    assert untuned["delta"].isna().all() and not untuned["significant"].any()


def test_benchmark_headline_paired_with_untuned(table):
    row = _row(table, "m+a", "jailbreakv", "asr")
    assert row["value"] == 0.0 and row["delta"] == -1.0 and row["improvement"] == 1.0 and row["significant"]
    assert _row(table, "m", "jailbreakv", "asr")["value"] == 1.0
    same = _row(table, "m+b", "jailbreakv", "asr")
    assert same["delta"] == 0.0 and not same["significant"]
    assert _row(table, "m+a", "mssbench", "accuracy", "chat")["value"] == 0.5


def test_over_refusal(table):
    mss = _row(table, "m+a", "mssbench", "over_refusal", "safe")
    assert mss["value"] == 1.0 and mss["n"] == N // 2 and mss["improvement"] == -1.0 and mss["significant"]
    assert _row(table, "m", "mssbench", "over_refusal", "safe")["value"] == 0.0
    assert _row(table, "m+a", "benign_questions", "over_refusal")["value"] == 1.0
    assert _row(table, "m+b", "benign_questions", "over_refusal")["value"] == 1.0  # the raw text refused
    assert _row(table, "m", "benign_questions", "over_refusal")["judge"] == finetuning.BENIGN_JUDGE


def test_thought_retention(table):
    assert _row(table, "m+b", "all", "thought_share")["value"] == 0.0
    assert _row(table, "m+b", "all", "thought_share")["significant"]
    assert _row(table, "m+a", "all", "mean_thought_tokens")["value"] == 20.0
    assert np.isnan(_row(table, "m+b", "all", "mean_thought_tokens")["value"])


def test_markdown(table):
    markdown = finetuning.to_markdown(table)
    assert markdown.count("### m") == 1
    assert "| untuned |" in markdown and "| Set A |" in markdown
    assert "jailbreakv asr [rule:refusal-v1]" in markdown and "0.0 [0.0, 0.0] *" in markdown
    assert finetuning.to_markdown(table.iloc[0:0]) == "_no fine-tuned models_\n"
