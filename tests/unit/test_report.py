"""HTML report: renders, is self-contained, escapes model outputs, summary computed from the tables,
figure groups shown or explained, examples, provenance with wall times."""

from __future__ import annotations

import os
import re

import numpy as np
import pandas as pd
import pytest

from think_in_safety.comparison import COMPARISON_COLUMNS, compare_to_base
from think_in_safety.metrics import METRIC_COLUMNS, metrics_from_scores, unit_scores
from think_in_safety.report import (
    FIGURE_GROUPS,
    ReportInputs,
    collect_provenance,
    finetuning_sentences,
    job_wall_times,
    load_examples,
    pick_example_prompts,
    render_report,
    summary_sentences,
    thought_length_sentence,
    thought_vs_answer_sentence,
    wall_time_rows,
)
from think_in_safety.tables import JUDGMENT_COLUMNS, PROMPT_COLUMNS, RESPONSE_COLUMNS

from . import synthetic_study

JUDGE = "rule:refusal-v1"
ATTACK = "<script>alert(1)</script>"


def tables():
    ids = [f"figstep/{i}" for i in range(8)]
    prompts = pd.DataFrame([{
        "id": pid, "benchmark": "figstep", "subset": "figstep", "category": ["Fraud", "Privacy"][i % 2],
        "image_paths": [], "system_prompt": "", "prompt": "The image shows a list...", "n_samples": 1,
        "question": f"How to {i}?", "safety_warning": "", "reference_answer": "", "image_context": "",
        "judge_rubric": "",
    } for i, pid in enumerate(ids)], columns=list(PROMPT_COLUMNS))
    responses, judgments = [], []
    for model, n_unsafe in (("r1-onevision", 6), ("qwen2.5-vl", 2)):
        for i, pid in enumerate(ids):
            unsafe = float(i < n_unsafe)
            answer = f"Step 1 {ATTACK}" if unsafe else "I'm sorry, I can't help."
            responses.append({"id": pid, "sample": 0, "model": model, "raw": answer, "thought": "<b>thinking</b>",
                              "answer": answer, "has_thought": True, "prompt_tokens": 10, "thought_tokens": 1,
                              "answer_tokens": 3, "generated_tokens": 4, "finished": True, "decoding": "{}",
                              "seconds": 0.1, "prompting": "{}"})
            judgments.append({"id": pid, "sample": 0, "model": model, "judge": JUDGE,
                              "label": "unsafe" if unsafe else "safe", "unsafe": unsafe,
                              "rationale": "no refusal string" if unsafe else "refusal string 'Sorry'", "status": "ok"})
    return (prompts, pd.DataFrame(responses, columns=list(RESPONSE_COLUMNS)),
            pd.DataFrame(judgments, columns=list(JUDGMENT_COLUMNS)))


def test_report_renders_escaped_and_self_contained(tmp_path):
    prompts, responses, judgments = tables()
    scores = unit_scores(prompts, judgments, "figstep")
    comparison = compare_to_base(scores, {"r1-onevision": "qwen2.5-vl"}, n_boot=100)
    metrics = metrics_from_scores(scores, n_boot=100)
    examples = pick_example_prompts(prompts, responses.assign(benchmark="figstep").drop(columns="benchmark"),
                                    judgments, pairs={"r1-onevision": "qwen2.5-vl"}, n_prompts=1).assign(
        benchmark="figstep")
    out = tmp_path / "reports" / "report.html"
    render_report(comparison, metrics, examples, {"config": {"seed": 0}, "judge": JUDGE, "note": "<i>x</i>"}, out)
    html = out.read_text(encoding="utf-8")

    assert ATTACK not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>thinking</b>" not in html and "&lt;b&gt;thinking&lt;/b&gt;" in html
    assert "<i>x</i>" not in html
    assert "<script" not in html and "<link" not in html
    # the only URLs are inside the Content-Security-Policy, which forbids every request but data: images
    assert "default-src 'none'; img-src data:" in html
    assert not re.search(r"(src|href)=\"(?!data:|#)", html)
    assert "1 of 1 reasoning model is less safe than its base on jailbreak-robustness benchmarks" in html
    assert "75.0 [" in html and "25.0 [" in html  # reasoning ASR 6/8, base 2/8
    assert 'class="num worse' in html  # the delta is coloured as a safety loss
    for section in ('id="summary"', 'id="collapse"', 'id="benchmarks"', 'id="benchmark-figstep"',
                    'id="provenance"', *(f'id="{group[0]}"' for group in FIGURE_GROUPS)):
        assert section in html
    assert "&#34;seed&#34;: 0" in html or "&quot;seed&quot;: 0" in html


def test_empty_inputs_render(tmp_path):
    out = tmp_path / "empty.html"
    render_report(pd.DataFrame(columns=COMPARISON_COLUMNS), pd.DataFrame(columns=METRIC_COLUMNS), None, {}, out)
    html = out.read_text()
    assert "No reasoning/base comparisons yet." in html
    assert html.count("Not shown:") == len(FIGURE_GROUPS)  # every figure group says why it is missing


def test_example_prompts_show_the_collapse_first_and_spread_categories():
    prompts, responses, judgments = tables()
    examples = pick_example_prompts(prompts, responses, judgments, pairs={"r1-onevision": "qwen2.5-vl"},
                                    n_prompts=2, model_order=["qwen2.5-vl", "r1-onevision"])
    # prompts 2..5: the reasoner unsafe, the base safe; one per category (Fraud: even, Privacy: odd)
    assert list(examples["id"].unique()) == ["figstep/2", "figstep/3"]
    assert list(examples["model"][:2]) == ["qwen2.5-vl", "r1-onevision"]  # the config's order
    assert set(examples["question"]) == {"How to 2?", "How to 3?"}


def test_examples_are_loaded_per_benchmark_with_thought_verdicts(tmp_path):
    paths = synthetic_study.write_study(tmp_path, models=["base-a", "reason-a"],
                                        benchmarks=("figstep", "siuo"), tis_card=False)
    examples = load_examples(paths["prompts"], paths["responses"], paths["judgments"], pairs={"reason-a": "base-a"},
                             thought_judgment_paths=paths["thought_judgments"], n_prompts=2)
    assert set(examples["benchmark"]) == {"figstep", "siuo"}
    assert examples.groupby("benchmark")["id"].nunique().tolist() == [2, 2]
    assert (examples["sample"] == 0).all()  # SIUO's first of three samples
    thoughts = examples.set_index("model")["thought_judge"]
    assert thoughts["reason-a"].eq(synthetic_study.THOUGHT_JUDGE).all() and thoughts["base-a"].isna().all()


def test_summary_sentence_counts_models():
    rows = pd.DataFrame({"judge": JUDGE, "family": ["jailbreak", "jailbreak", "awareness"],
                         "reasoning_model": ["a", "b", "a"], "safety_change": [-0.1, -0.3, 0.02],
                         "significant": [True, False, False]})
    sentences = summary_sentences(rows)
    assert sentences[0].startswith("2 of 2 reasoning models are less safe than their base on jailbreak-robustness")
    assert "1 with a 95% CI" in sentences[0]
    assert sentences[1].startswith("0 of 1 reasoning model is less safe")
    one_of_two = rows.assign(safety_change=[-0.1, 0.3, 0.0])
    assert summary_sentences(one_of_two)[0].startswith("1 of 2 reasoning models is less safe than its base")


def test_finding_sentences_of_each_figure_group():
    from think_in_safety import study_tables as st

    length = pd.DataFrame({"judge": "j", "family": "jailbreak", "model": ["m", "m", "n", "n"], "bin": [1, 2, 1, 2],
                           "bin_label": ["1–9", "10–20"] * 2, "safe_share": [0.2, 0.6, 0.5, 0.4]})
    assert "in 1 of 2 series" in thought_length_sentence(length)
    assert "+15.0 pp" in thought_length_sentence(length)  # mean of +40 and -10
    counts = pd.DataFrame([{"n_both_safe": 5, "n_unsafe_thought_safe_answer": 1, "n_safe_thought_unsafe_answer": 5,
                            "n_both_unsafe": 3}])
    assert thought_vs_answer_sentence(counts) == ("Thought against answer: 25.0% of the 4 unsafe thoughts were "
                                                  "followed by a safe answer; 50.0% of the 10 safe thoughts by an "
                                                  "unsafe answer.")
    assert "not measured: no judge with judge_target: thought" in thought_vs_answer_sentence(pd.DataFrame())
    assert "not run in this configuration" in finetuning_sentences(pd.DataFrame(columns=st.FINETUNING_COLUMNS))[0]


def test_provenance_names_sources_packages_and_judges():
    config = {
        "benchmarks": {"figstep": {"source": "demo"}},
        "models": {"m": {"weights": "hf:org/m", "base": None, "thought_format": "none", "verified": False}},
        "judges": {"rule": {"backend": "rule", "judge_target": "answer"}},
    }
    provenance = collect_provenance(config, judge_identities=[JUDGE, JUDGE])
    assert provenance["benchmark sources"] == {"figstep": "demo"}
    assert provenance["models"]["m"]["weights"] == "hf:org/m"
    assert provenance["models"]["m"]["verified"] is False
    assert provenance["judges (identity = name:model:prompt version)"] == [JUDGE]
    assert provenance["packages"]["pandas"] == pd.__version__
    assert provenance["judge settings"]["rule"]["judge_target"] == "answer"
    assert len(provenance["config digest (sha256)"]) == 16
    assert collect_provenance(config)["config digest (sha256)"] == provenance["config digest (sha256)"]


BENCHMARK_HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def test_wall_times_come_from_the_rules_benchmark_files(tmp_path):
    """benchmarks/<rule>/<wildcards>.tsv as Snakemake's benchmark: writes them, one file per job."""
    root = tmp_path / "benchmarks"
    jobs = [("generate", "m/figstep.tsv", "60.0\t0:01:00\t3000.5\t1\t1\t1\t0\t0\t90\t55.0", 100),
            ("generate", "m/siuo.tsv", "20.0\t0:00:20\t1500.0\t1\t1\t1\t0\t0\t90\t18.5", 110),
            ("judge", "rule/m/figstep.tsv", "1.5\t0:00:01\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA", 200),
            ("table", "categories/siuo.tsv", "0.5\t0:00:00\t120.0\t1\t1\t1\t0\t0\t50\t0.4", 150)]
    for rule, name, row, finished in jobs:
        path = root / rule / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(BENCHMARK_HEADER + row + "\n")
        os.utime(path, (finished, finished))
    (root / "judge" / "broken.tsv").write_text("not a benchmark file\n")
    (root / "stray.tsv").write_text(BENCHMARK_HEADER + "9\t0\t1\t1\t1\t1\t0\t0\t1\t1\n")  # no rule folder
    times = job_wall_times(root).set_index("rule")
    assert list(times.index) == ["generate", "table", "judge"]  # in the order their first job finished
    assert times.loc["generate", "jobs"] == 2 and times.loc["generate", "total_s"] == pytest.approx(80.0)
    assert times.loc["generate", "longest_s"] == pytest.approx(60.0)
    assert times.loc["generate", "max_rss_mb"] == pytest.approx(3000.5)
    assert times.loc["generate", "cpu_s"] == pytest.approx(73.5)
    assert times.loc["judge", "jobs"] == 1 and np.isnan(times.loc["judge", "max_rss_mb"])  # NA: not sampled
    rows = {row["rule"]: row for row in wall_time_rows(job_wall_times(root))}
    assert rows["generate"]["total"] == "80.0 s" and rows["generate"]["memory"] == "2.9 GB"
    assert rows["judge"]["memory"] == "–" and rows["judge"]["cpu"] == "–"
    assert job_wall_times(tmp_path / "missing").empty
    out = tmp_path / "report.html"
    render_report(pd.DataFrame(columns=COMPARISON_COLUMNS), pd.DataFrame(columns=METRIC_COLUMNS), None, {}, out,
                  inputs=ReportInputs(wall_times=job_wall_times(root)))
    html = out.read_text()
    assert "<th>peak memory (job)</th>" in html and "<td>generate</td><td class=\"num\">2</td>" in html
    assert "2.9 GB" in html and "benchmarks/&lt;rule&gt;/" in html


def test_full_report_of_a_synthetic_study(synthetic_report):
    html = synthetic_report.read_text(encoding="utf-8")
    assert "Not shown:" not in html  # all six figure groups are measured in this study
    assert html.count('<img src="data:image/png;base64,') >= 8 + 5  # figures + heatmaps (+ prompt images)
    assert "Fine-tuning reason-a on TiS gave the highest mean safety score" in html
    assert "TiS dataset: 440 records from 2 sources; the filters dropped 26." in html
    for attack in synthetic_study.ATTACKS.values():
        assert attack not in html
    assert "<script" not in html
    # the caption files of `snakemake --report` are the HTML captions too
    assert "Safety variation, the paper&#39;s headline result" in html


def test_missing_figure_groups_say_why(tmp_path):
    out = synthetic_study.build_report(tmp_path, n_boot=100, models=["base-a", "reason-a"],
                                       benchmarks=("figstep", "mssbench"), thought_judged=False, tis_card=False)
    html = out.read_text(encoding="utf-8")
    assert "not measured: no judge with judge_target: thought in this configuration" in html
    assert "not run in this configuration: no model is fine-tuned" in html
    assert "not run in this configuration: no TiS dataset card" in html
    assert html.count("Not shown:") == 3


def test_report_inputs_default_to_nothing():
    inputs = ReportInputs()
    assert inputs.figures == {} and inputs.tables == {} and inputs.wall_times is None
