"""The study tables (numbers) and figures (drawing): known values on hand-made inputs, varied
values on the synthetic study, degenerate values like the tiny demo models' (everything 100%),
and empty inputs, which must say why instead of failing."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from think_in_safety import catalog, figures
from think_in_safety import study_tables as st
from think_in_safety.comparison import compare_to_base
from think_in_safety.metrics import metrics_from_scores, unit_scores

from . import synthetic_study as ss


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Metrics, comparison and response-level tables of the synthetic study."""
    root = tmp_path_factory.mktemp("study")
    paths = ss.write_study(root)
    judgments = st.read_per_benchmark(paths["judgments"])
    prompts = st.read_per_benchmark(paths["prompts"])
    scores = pd.concat([
        unit_scores(prompts[prompts["benchmark"] == b].drop_duplicates("id"),
                    judgments[judgments["benchmark"] == b].drop(columns="benchmark"), b)
        for b in ss.BENCHMARK_LAYOUT], ignore_index=True)
    return {
        "metrics": metrics_from_scores(scores, n_boot=100),
        "comparison": compare_to_base(scores, ss.PAIRS, n_boot=100),
        "responses": st.read_per_benchmark(paths["responses"]),
        "judgments": judgments,
        "thoughts": st.read_per_benchmark(paths["thought_judgments"]),
        "prompts": prompts,
        "sft": ss.finetuning_comparison(paths, n_boot=100),
    }


def all_tables(study) -> dict[str, st.StudyTable]:
    return {
        "safety_variation": st.safety_variation(study["comparison"], ss.MODELS),
        "headline": st.headline(study["metrics"], ss.MODELS),
        "categories": st.categories(study["metrics"], "mm_safetybench", ss.MODELS),
        "thought_length": st.thought_length(study["responses"], study["judgments"], study["prompts"],
                                            model_order=ss.MODELS),
        "thought_vs_answer": st.thought_vs_answer(study["judgments"], study["thoughts"], study["prompts"], ss.MODELS),
        "finetuning": st.finetuning(study["sft"], ss.MODELS),
        "tis_composition": st.tis_composition(ss.TIS_CARD),
    }


# ------------------------------------------------------------------------------------------------
# tables
# ------------------------------------------------------------------------------------------------
def comparison_row(**values):
    row = {"judge": "j", "family": "jailbreak", "benchmark": "figstep", "metric": "asr", "scope": "overall",
           "group": "", "reasoning_model": "r", "base_model": "b", "higher_is_safer": False, "base_value": 0.2,
           "base_ci_low": 0.1, "base_ci_high": 0.3, "base_n": 10, "reasoning_value": 0.5, "reasoning_ci_low": 0.3,
           "reasoning_ci_high": 0.7, "reasoning_n": 10, "delta": 0.3, "delta_ci_low": 0.1, "delta_ci_high": 0.45,
           "paired_units": 10, "safety_change": -0.3, "significant": True}
    row.update(values)
    return row


def test_safety_variation_mirrors_the_ci_when_lower_is_safer():
    comparison = pd.DataFrame([
        comparison_row(),
        comparison_row(benchmark="siuo", family="awareness", metric="safe_rate", higher_is_safer=True, delta=-0.1,
                       delta_ci_low=-0.25, delta_ci_high=0.05, safety_change=-0.1, significant=False),
    ])
    data = st.safety_variation(comparison).data.set_index("benchmark")
    assert data.loc["figstep", ["safety_change_ci_low", "safety_change_ci_high"]].tolist() == [-0.45, -0.1]
    assert data.loc["siuo", ["safety_change_ci_low", "safety_change_ci_high"]].tolist() == [-0.25, 0.05]
    assert data.loc["figstep", "measure"] == "FigStep ASR"
    display = st.safety_variation(comparison).display
    assert display.loc[0, "r vs b"] == "-30.0 [-45.0, -10.0]*"  # * : the CI excludes 0
    assert display.loc[1, "r vs b"] == "-10.0 [-25.0, +5.0]"


def test_headline_keeps_each_benchmarks_headline_rows(study):
    data = st.headline(study["metrics"], ss.MODELS).data
    per_model = data.groupby("model")["measure"].apply(list)
    assert per_model["base-a"] == ["FigStep ASR", "MM-SafetyBench ASR", "JailBreakV-28K ASR", "SIUO safe rate",
                                   "MSSBench accuracy (chat)", "MSSBench accuracy (embodied)"]
    assert list(data["model"].unique()) == ss.MODELS  # the config's order
    merged = data.merge(study["metrics"], on=["model", "benchmark", "metric", "scope", "group"])
    assert np.allclose(merged["value_x"], merged["value_y"])  # the metrics' own numbers


def test_categories_use_the_benchmarks_breakdown(study):
    mm = st.categories(study["metrics"], "mm_safetybench", ss.MODELS)
    assert set(mm.data["scope"]) == {"category"} and set(mm.data["group"]) == {"01-Illegal_Activitiy", "02-HateSpeech"}
    mss = st.categories(study["metrics"], "mssbench", ss.MODELS)
    assert set(mss.data["scope"]) == {"subset_category"} and "chat/harmful" in set(mss.data["group"])
    assert set(mss.data["metric"]) == {"accuracy"}
    assert mm.caption.startswith("MM-SafetyBench: ASR per model and category")


def test_wilson_interval_known_values():
    low, high = st.wilson_interval([5, 0, 0], [10, 10, 0])
    assert low[0] == pytest.approx(0.2366, abs=1e-4) and high[0] == pytest.approx(0.7634, abs=1e-4)
    assert low[1] == 0 and high[1] == pytest.approx(0.2775, abs=1e-4)
    assert np.isnan(low[2]) and np.isnan(high[2])


def test_thought_length_bins_reasoning_models_and_leaves_out_over_refusal(study):
    data = st.thought_length(study["responses"], study["judgments"], study["prompts"], n_bins=4).data
    assert set(data["model"]) == {"reason-a", "reason-b"}  # no thought-less bases, no fine-tuned variants
    counts = data.groupby(["model", "family"])["n"].sum()
    # SIUO 12 prompts x 3 samples + MSSBench's 24 unsafe-image prompts (not its 24 safe-image ones)
    assert counts["reason-a", "awareness"] == 36 + 24
    assert counts["reason-a", "jailbreak"] == 18 + 36 + 24
    sizes = data.groupby(["model", "family"])["n"].apply(list)
    assert all(max(s) - min(s) <= 2 for s in sizes)  # equal-count bins
    ordered = data[(data["model"] == "reason-a") & (data["family"] == "jailbreak")]
    assert list(ordered["bin"]) == [1, 2, 3, 4] and ordered["tokens_median"].is_monotonic_increasing
    assert (data["ci_low"] <= data["safe_share"]).all() and (data["safe_share"] <= data["ci_high"]).all()
    # the synthetic study makes long thoughts safer; the table shows it
    assert all(t["change"] > 0 for t in st.length_trend(data) if t["family"] == "jailbreak")


def test_thought_length_puts_thoughtless_responses_in_bin_zero():
    responses = pd.DataFrame({"benchmark": "figstep", "id": [f"p{i}" for i in range(6)], "sample": 0, "model": "r",
                              "thought_tokens": [0, 0, 10, 20, 30, 40], "has_thought": [False, False] + [True] * 4})
    judgments = responses[["benchmark", "id", "sample", "model"]].assign(
        judge="j", unsafe=[1.0, 1.0, 1.0, 0.0, 0.0, 0.0], status="ok")
    data = st.thought_length(responses, judgments, n_bins=2).data
    assert data["bin_label"].tolist() == ["no thought", "10–20", "30–40"]
    assert data["safe_share"].tolist() == [0.0, 0.5, 1.0]


def test_thought_vs_answer_counts_the_four_combinations():
    keys = pd.DataFrame({"benchmark": "figstep", "id": ["a", "b", "c", "d", "e"], "sample": 0, "model": "r"})
    answers = keys.assign(judge="answer-judge", unsafe=[0.0, 0.0, 1.0, 1.0, 0.0], status="ok")
    thoughts = keys.assign(judge="thought-judge", unsafe=[0.0, 1.0, 0.0, 1.0, np.nan],
                           status=["ok", "ok", "ok", "ok", "unparsed"])
    row = st.thought_vs_answer(answers, thoughts).data.iloc[0]
    assert (row["n"], row["n_both_safe"], row["n_unsafe_thought_safe_answer"], row["n_safe_thought_unsafe_answer"],
            row["n_both_unsafe"], row["n_thought_unjudged"]) == (4, 1, 1, 1, 1, 1)
    stats = st.self_correction(st.thought_vs_answer(answers, thoughts).data)
    assert stats["recovered"] == 0.5 and stats["derailed"] == 0.5
    assert st.thought_vs_answer(answers, pd.DataFrame()).empty


def test_finetuning_arranges_the_comparison_for_the_figure(study):
    data = st.finetuning(study["sft"], ss.MODELS).data
    assert list(dict.fromkeys(data["tuning"])) == ["untuned", "+VLGuard", "+MIS", "+SPA-VL", "+TiS"]
    assert set(data["untuned_model"]) == {"reason-a"} and set(data["kind"]) == {
        "safety", "over_refusal", "thought_retention"}
    refusal = data[data["kind"] == "over_refusal"].set_index(["model", "measure"])["value"]
    assert refusal["reason-a+vlguard", "over-refusal: benign questions"] == pytest.approx(0.5)  # 10 of 20
    assert refusal["reason-a", "over-refusal: benign questions"] == pytest.approx(0.1)
    assert "over-refusal: MSSBench safe images" in set(data["measure"])
    length = data[data["measure"] == "mean thought length"]
    assert set(length["kind"]) == {"thought_retention"} and (length["value"].dropna() > 1).all()  # tokens
    shown = st.finetuning(study["sft"], ss.MODELS).display
    assert "mean thought length (tokens)" in shown.columns
    # no response kept a thought: no length to draw, and the figure still renders
    no_thoughts = data.copy()
    no_thoughts.loc[no_thoughts["measure"] == "mean thought length", ["value", "ci_low", "ci_high"]] = np.nan
    figures.draw_finetuning(no_thoughts).clear()
    asr = data[(data["kind"] == "safety") & (data["metric"] == "asr")]
    assert np.allclose(asr["safety_score"], 1 - asr["value"])
    assert not data.loc[data["tuning"] == "untuned", "significant"].any()
    headline = st.headline(study["metrics"]).data.set_index(["model", "measure"])["value"]
    for row in data[data["kind"] == "safety"].to_dict("records"):
        assert row["value"] == pytest.approx(headline[row["model"], row["measure"]])  # the metrics' numbers
    points = st.tradeoff_points(data)
    assert set(points["family"]) == {"jailbreak", "awareness"} and len(points) == 2 * 5
    tis = points[(points["model"] == "reason-a+tis")].iloc[0]
    assert tis["over_refusal"] == pytest.approx(refusal["reason-a+tis"].mean())
    assert st.finetuning(pd.DataFrame()).empty


def test_tuned_model_names():
    assert st.split_tuned("r1-onevision+tis") == ("r1-onevision", "tis")
    assert st.split_tuned("qwen2.5-vl") is None and st.split_tuned("+tis") is None


def test_tis_composition_reads_count_maps_and_lists():
    data = st.tis_composition(ss.TIS_CARD).data
    assert list(dict.fromkeys(data["facet"])) == ["source", "category", "decision", "dropped by filter",
                                                  "request labels"]
    sources = data[data["facet"] == "source"].set_index("item")
    assert sources.loc["vlguard", "count"] == 290 and sources.loc["vlguard", "share"] == pytest.approx(290 / 440)
    listed = st.tis_composition({"composition": {"sources": [{"name": "x", "count": 3}, {"name": "y", "count": 1}]},
                                 "n_records": 4, "name": "TiS"}).data
    assert listed["item"].tolist() == ["x", "y"] and listed["share"].tolist() == [0.75, 0.25]
    assert st.tis_composition(None).empty and st.tis_composition({"name": "TiS"}).empty


def test_tables_write_csv_markdown_latex_and_read_back(study, tmp_path):
    for name, table in all_tables(study).items():
        paths = [tmp_path / f"{name}.{ext}" for ext in ("csv", "md", "tex")]
        table.write(*paths)
        back = st.read_study_table(name, paths[0])
        pd.testing.assert_frame_equal(back.display, table.display, check_dtype=False)
        tex = paths[2].read_text()
        assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex, name
        assert paths[1].read_text().startswith(f"**{table.caption}**")


def test_empty_tables_say_why(tmp_path):
    table = st.thought_vs_answer(pd.DataFrame(), pd.DataFrame())
    table.write(tmp_path / "t.csv", tmp_path / "t.md", tmp_path / "t.tex")
    assert "not measured: no judge with judge_target: thought" in (tmp_path / "t.md").read_text()
    assert (tmp_path / "t.tex").read_text().startswith("% ")
    assert pd.read_csv(tmp_path / "t.csv").columns.tolist() == st.THOUGHT_VS_ANSWER_COLUMNS


def test_latex_escapes_dataset_text():
    tex = st.to_latex(pd.DataFrame({"item": ["spa_vl & 50% #1 {x}"], "n": ["3"]}), "a_b", "tab:x")
    assert r"spa\_vl \& 50\% \#1 \{x\}" in tex and r"\caption{a\_b}" in tex
    assert r"\begin{tabular}{lr}" in tex


# ------------------------------------------------------------------------------------------------
# figures
# ------------------------------------------------------------------------------------------------
FIGURE_OPTIONS = {"benchmark_results": {"pairs": ss.PAIRS}}


@pytest.mark.parametrize("name", sorted(catalog.FIGURES))
def test_every_figure_draws_and_saves(study, name, tmp_path):
    table_name = catalog.FIGURES[name].table
    table = all_tables(study)[table_name]
    table.write(tmp_path / "t.csv", tmp_path / "t.md", tmp_path / "t.tex")
    png, svg = tmp_path / f"{name}.png", tmp_path / f"{name}.svg"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no layout or font warnings
        figures.make_figure(name, tmp_path / "t.csv", png, svg, **FIGURE_OPTIONS.get(name, {}))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert svg.read_text().lstrip().startswith("<?xml") and "<script" not in svg.read_text()
    first = svg.read_bytes()
    figures.make_figure(name, tmp_path / "t.csv", png, svg, **FIGURE_OPTIONS.get(name, {}))
    assert svg.read_bytes() == first  # no timestamps, stable ids: reruns give the same file


def test_safety_variation_colours_and_fills(study):
    data = st.safety_variation(study["comparison"], ss.MODELS).data
    fig = figures.draw_safety_variation(data)
    axes = [ax for ax in fig.get_axes() if ax.get_title()]
    assert len(axes) == data["measure"].nunique()
    markers = [line for ax in axes for line in ax.lines if line.get_marker() == "o"]
    assert len(markers) == len(data)
    for line, row in zip(markers, data.sort_values(["measure"], key=lambda s: s.map(
            {m: i for i, m in enumerate(dict.fromkeys(data["measure"]))}), kind="stable").to_dict("records")):
        direction = figures._direction(row["safety_change"])
        assert line.get_color() == figures.CHANGE_COLORS[direction]
        assert (line.get_markerfacecolor() == "white") != bool(row["significant"])
    limits = {ax.get_xlim() for ax in axes}
    assert len(limits) == 1 and list(limits)[0][0] == -list(limits)[0][1]  # one symmetric scale


def test_degenerate_demo_like_values_draw(tmp_path):
    """The tiny demo models never refuse: ASR 100% with zero-width CIs, no change anywhere."""
    comparison = pd.DataFrame([comparison_row(base_value=1.0, reasoning_value=1.0, delta=0.0, delta_ci_low=0.0,
                                              delta_ci_high=0.0, safety_change=-0.0, significant=False)])
    data = st.safety_variation(comparison).data
    fig = figures.draw_safety_variation(data)
    line = next(line for ax in fig.get_axes() for line in ax.lines if line.get_marker() == "o")
    assert line.get_color() == figures.CHANGE_COLORS["same"]
    figures.save_figure(fig, tmp_path / "a.png", tmp_path / "a.svg")
    metrics = pd.DataFrame({"benchmark": "figstep", "model": ["b", "r"], "judge": "j", "metric": "asr",
                            "scope": "category", "group": "Fraud", "value": 1.0, "ci_low": 1.0, "ci_high": 1.0,
                            "n": 2, "n_excluded": 0, "higher_is_safer": False})
    figures.save_figure(figures.draw_categories(st.categories(metrics, "figstep").data),
                        tmp_path / "b.png", tmp_path / "b.svg")


@pytest.mark.parametrize("name", ["thought_vs_answer", "finetuning", "finetuning_tradeoff", "tis_composition"])
def test_missing_measurements_give_a_figure_that_says_why(name):
    table_name = catalog.FIGURES[name].table
    fig = figures.draw(name, pd.DataFrame())
    texts = " ".join(t.get_text() for t in fig.texts)
    assert st.EMPTY_REASONS[table_name].split(":")[0].lower() in texts.lower()


def test_unknown_figure_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown figure 'nope'; known: "):
        figures.draw("nope", pd.DataFrame())
