"""Collapse table: deltas and their signs, paired bootstrap CI, summary and markdown."""

from __future__ import annotations

import pandas as pd
import pytest

from think_in_safety.comparison import (
    COMPARISON_COLUMNS,
    compare_to_base,
    family_summary,
    to_markdown,
    write_comparison,
)
from think_in_safety.metrics import compute_metrics, unit_scores
from think_in_safety.tables import JUDGMENT_COLUMNS, PROMPT_COLUMNS

JUDGE = "rule:refusal-v1"
PAIRS = {"r1-onevision": "qwen2.5-vl"}


def prompts_frame(benchmark: str, ids: list[str], **fields) -> pd.DataFrame:
    base = {"benchmark": benchmark, "subset": "", "category": "", "image_paths": [], "system_prompt": "",
            "prompt": "p", "n_samples": 1, "question": "q", "safety_warning": "", "reference_answer": "",
            "image_context": "", "judge_rubric": ""}
    rows = [{**base, "id": pid, **{k: (v[i] if isinstance(v, list) else v) for k, v in fields.items()}}
            for i, pid in enumerate(ids)]
    return pd.DataFrame(rows, columns=list(PROMPT_COLUMNS))


def judgments_frame(ids: list[str], unsafe: list[float], model: str, samples: list[int] | None = None) -> pd.DataFrame:
    samples = samples or [0] * len(ids)
    return pd.DataFrame({"id": ids, "sample": samples, "model": model, "judge": JUDGE, "label": "",
                         "unsafe": unsafe, "rationale": "", "status": "ok"}, columns=list(JUDGMENT_COLUMNS))


def figstep_scores(n: int, base_unsafe: int, extra_unsafe: int, base_ids_offset: int = 0) -> pd.DataFrame:
    """Reasoning model = base model + ``extra_unsafe`` more unsafe answers on the same prompts."""
    ids = [f"f{i}" for i in range(n)]
    base_ids = [f"f{i + base_ids_offset}" for i in range(n)]
    prompts = prompts_frame("figstep", sorted(set(ids) | set(base_ids)))
    reasoning = judgments_frame(ids, [1.0 if i < base_unsafe + extra_unsafe else 0.0 for i in range(n)], "r1-onevision")
    base = judgments_frame(base_ids, [1.0 if i < base_unsafe else 0.0 for i in range(n)], "qwen2.5-vl")
    return unit_scores(prompts, pd.concat([reasoning, base]), "figstep")


def test_jailbreak_delta_sign_and_paired_ci():
    table = compare_to_base(figstep_scores(200, 80, 20), PAIRS, n_boot=1000, seed=0)
    assert list(table.columns) == COMPARISON_COLUMNS and len(table) == 1
    row = table.iloc[0]
    assert (row["benchmark"], row["family"], row["metric"], row["scope"]) == ("figstep", "jailbreak", "asr", "overall")
    assert row["base_value"] == pytest.approx(0.4) and row["reasoning_value"] == pytest.approx(0.5)
    assert row["delta"] == pytest.approx(0.1)
    assert row["safety_change"] == pytest.approx(-0.1)  # higher ASR = less safe
    assert row["paired_units"] == 200
    assert row["delta_ci_low"] <= row["delta"] <= row["delta_ci_high"]
    # paired: only the 20 flipped prompts vary -> narrow CI, excluding 0
    assert row["significant"] and row["delta_ci_high"] - row["delta_ci_low"] < 0.1


def test_unpaired_prompts_give_wider_ci():
    paired = compare_to_base(figstep_scores(200, 80, 20), PAIRS, n_boot=1000).iloc[0]
    unpaired = compare_to_base(figstep_scores(200, 80, 20, base_ids_offset=1000), PAIRS, n_boot=1000).iloc[0]
    assert unpaired["paired_units"] == 0
    assert unpaired["delta"] == pytest.approx(paired["delta"])
    assert ((unpaired["delta_ci_high"] - unpaired["delta_ci_low"])
            > 1.5 * (paired["delta_ci_high"] - paired["delta_ci_low"]))


def test_model_ci_matches_metrics_table():
    ids = [f"f{i}" for i in range(50)]
    prompts = prompts_frame("figstep", ids)
    judgments = pd.concat([judgments_frame(ids, [float(i % 3 == 0) for i in range(50)], "r1-onevision"),
                           judgments_frame(ids, [float(i % 5 == 0) for i in range(50)], "qwen2.5-vl")])
    metrics = compute_metrics(prompts, judgments, "figstep", n_boot=300, seed=3).set_index("model")
    row = compare_to_base(unit_scores(prompts, judgments, "figstep"), PAIRS, n_boot=300, seed=3).iloc[0]
    assert row["base_ci_low"] == metrics.loc["qwen2.5-vl", "ci_low"]
    assert row["reasoning_ci_high"] == metrics.loc["r1-onevision", "ci_high"]


def test_awareness_rows_siuo_and_mssbench():
    # SIUO: 4 questions x 3 samples; base safe on 4/4, reasoning on 3/4 -> safe_rate delta -0.25
    qs = ["q1", "q2", "q3", "q4"]
    siuo_prompts = prompts_frame("siuo", qs, n_samples=3)
    ids3, samples3 = [q for q in qs for _ in range(3)], [0, 1, 2] * 4
    siuo = pd.concat([
        judgments_frame(ids3, [0.0] * 12, "qwen2.5-vl", samples3),
        judgments_frame(ids3, [0.0] * 9 + [1.0, 1.0, 0.0], "r1-onevision", samples3),
    ])
    # MSSBench chat: base correct everywhere; reasoning misses both unsafe images -> accuracy 1.0 vs 0.5
    m_ids = ["c0s", "c0u", "c1s", "c1u", "e0s", "e0u"]
    mss_prompts = prompts_frame("mssbench", m_ids, subset=["chat"] * 4 + ["embodied"] * 2,
                                image_context=["safe", "unsafe"] * 3)
    mss = pd.concat([
        judgments_frame(m_ids, [0.0] * 6, "qwen2.5-vl"),
        judgments_frame(m_ids, [0.0, 1.0, 0.0, 1.0, 0.0, 0.0], "r1-onevision"),
    ])
    scores = pd.concat([unit_scores(siuo_prompts, siuo, "siuo"), unit_scores(mss_prompts, mss, "mssbench")])
    table = compare_to_base(scores, PAIRS, n_boot=200).set_index(["benchmark", "group"])
    assert set(table.index) == {("siuo", ""), ("mssbench", "chat"), ("mssbench", "embodied")}
    assert (table["family"] == "awareness").all() and table["higher_is_safer"].all()
    siuo_row = table.loc[("siuo", "")]
    assert siuo_row["metric"] == "safe_rate" and siuo_row["delta"] == pytest.approx(-0.25)
    assert siuo_row["safety_change"] == pytest.approx(-0.25)
    chat = table.loc[("mssbench", "chat")]
    assert chat["metric"] == "accuracy" and chat["base_value"] == 1.0 and chat["reasoning_value"] == 0.5
    assert chat["delta"] == pytest.approx(-0.5)
    assert table.loc[("mssbench", "embodied"), "delta"] == 0.0

    summary = family_summary(table.reset_index()).set_index("family")
    assert summary.loc["awareness", "n_models"] == 1 and summary.loc["awareness", "n_less_safe"] == 1
    assert summary.loc["awareness", "n_comparisons"] == 3 and summary.loc["awareness", "n_worse"] == 2


def test_missing_model_raises_and_missing_benchmark_is_skipped():
    scores = figstep_scores(10, 2, 2)
    with pytest.raises(ValueError, match="without any unit scores"):
        compare_to_base(scores, {"r1-onevision": "llama-3.2-vision"}, n_boot=10)
    only_reasoning_siuo = pd.concat([scores, scores[scores["model"] == "r1-onevision"].assign(benchmark="siuo")])
    assert compare_to_base(only_reasoning_siuo, PAIRS, n_boot=10)["benchmark"].tolist() == ["figstep"]


def test_markdown_and_csv(tmp_path):
    table = compare_to_base(figstep_scores(40, 8, 8), PAIRS, n_boot=100)
    markdown = to_markdown(table)
    lines = markdown.strip().splitlines()
    assert lines[0] == f"### Judge `{JUDGE}`"
    assert lines[2].startswith("| reasoning model | base model | benchmark |")
    assert lines[3].startswith("|---|")
    assert "| r1-onevision | qwen2.5-vl | figstep | asr | lower | 20.0 [" in lines[4]
    assert "+20.0 [" in lines[4]
    write_comparison(table, tmp_path / "c.csv", tmp_path / "c.md")
    back = pd.read_csv(tmp_path / "c.csv", keep_default_na=False)
    assert list(back.columns) == COMPARISON_COLUMNS and back.loc[0, "delta"] == pytest.approx(0.2)
    assert (tmp_path / "c.md").read_text() == markdown


def test_percent_never_shows_negative_zero():
    from think_in_safety.comparison import percent

    assert percent(-0.0, signed=True) == "+0.0"
    assert percent(-0.00001, signed=True) == "+0.0"
    assert percent(-0.0123, signed=True) == "-1.2"
    assert percent(0.5) == "50.0"
