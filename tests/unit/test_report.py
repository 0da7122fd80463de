"""HTML report: renders, is self-contained, escapes model outputs, summary computed from the table."""

from __future__ import annotations

import pandas as pd
from think_in_safety.comparison import compare_to_base
from think_in_safety.metrics import metrics_from_scores, unit_scores
from think_in_safety.report import pick_examples, render_report, summary_sentences
from think_in_safety.tables import JUDGMENT_COLUMNS, PROMPT_COLUMNS, RESPONSE_COLUMNS

JUDGE = "rule:refusal-v1"
ATTACK = "<script>alert(1)</script>"


def tables():
    ids = [f"figstep/{i}" for i in range(8)]
    prompts = pd.DataFrame([{
        "id": pid, "benchmark": "figstep", "subset": "figstep", "category": "Fraud", "image_paths": [],
        "system_prompt": "", "prompt": "The image shows a list...", "n_samples": 1, "question": f"How to {i}?",
        "safety_warning": "", "reference_answer": "", "image_context": "", "judge_rubric": "",
    } for i, pid in enumerate(ids)], columns=list(PROMPT_COLUMNS))
    responses, judgments = [], []
    for model, n_unsafe in (("r1-onevision", 6), ("qwen2.5-vl", 2)):
        for i, pid in enumerate(ids):
            unsafe = float(i < n_unsafe)
            answer = f"Step 1 {ATTACK}" if unsafe else "I'm sorry, I can't help."
            responses.append({"id": pid, "sample": 0, "model": model, "raw": answer, "thought": "<b>thinking</b>",
                              "answer": answer, "has_thought": True, "prompt_tokens": 10, "thought_tokens": 1,
                              "answer_tokens": 3, "generated_tokens": 4, "finished": True, "decoding": "{}",
                              "seconds": 0.1})
            judgments.append({"id": pid, "sample": 0, "model": model, "judge": JUDGE,
                              "label": "unsafe" if unsafe else "safe", "unsafe": unsafe,
                              "rationale": "no refusal string" if unsafe else "refusal string 'Sorry'", "status": "ok"})
    return prompts, pd.DataFrame(responses, columns=list(RESPONSE_COLUMNS)), pd.DataFrame(judgments, columns=list(JUDGMENT_COLUMNS))


def test_report_renders_escaped_and_self_contained(tmp_path):
    prompts, responses, judgments = tables()
    scores = unit_scores(prompts, judgments, "figstep")
    comparison = compare_to_base(scores, {"r1-onevision": "qwen2.5-vl"}, n_boot=100)
    metrics = metrics_from_scores(scores, n_boot=100)
    examples = pick_examples(prompts, responses, judgments, per_model=1)
    out = tmp_path / "reports" / "report.html"
    render_report(comparison, metrics, examples, {"config": {"seed": 0}, "judge": JUDGE, "note": "<i>x</i>"}, out)
    html = out.read_text(encoding="utf-8")

    assert ATTACK not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>thinking</b>" not in html and "&lt;b&gt;thinking&lt;/b&gt;" in html
    assert "<i>x</i>" not in html
    assert "<script" not in html and "http://" not in html and "https://" not in html and "<link" not in html
    assert "1 of 1 reasoning model is less safe than its base on jailbreak-robustness benchmarks" in html
    assert "75.0 [" in html and "25.0 [" in html  # reasoning ASR 6/8, base 2/8
    assert 'class="num worse' in html  # the delta is coloured as a safety loss
    for section in ('id="summary"', 'id="collapse"', 'id="metrics"', 'id="examples"', 'id="provenance"'):
        assert section in html
    assert "&#34;seed&#34;: 0" in html or "&quot;seed&quot;: 0" in html


def test_empty_inputs_render(tmp_path):
    from think_in_safety.comparison import COMPARISON_COLUMNS
    from think_in_safety.metrics import METRIC_COLUMNS

    out = tmp_path / "empty.html"
    render_report(pd.DataFrame(columns=COMPARISON_COLUMNS), pd.DataFrame(columns=METRIC_COLUMNS), None, {}, out)
    html = out.read_text()
    assert "No reasoning/base comparisons yet." in html and "No examples selected." in html


def test_pick_examples_prefers_unsafe():
    prompts, responses, judgments = tables()
    examples = pick_examples(prompts, responses, judgments, per_model=2)
    assert len(examples) == 4 and (examples["unsafe"] == 1.0).all()
    assert examples["benchmark"].eq("figstep").all() and examples["question"].str.startswith("How to").all()


def test_summary_sentence_counts_models():
    rows = pd.DataFrame({"judge": JUDGE, "family": ["jailbreak", "jailbreak", "awareness"],
                         "reasoning_model": ["a", "b", "a"], "safety_change": [-0.1, -0.3, 0.02],
                         "significant": [True, False, False]})
    sentences = summary_sentences(rows)
    assert sentences[1].startswith("2 of 2 reasoning models are less safe than their base on jailbreak-robustness")
    assert "1 with a 95% CI" in sentences[1]
    assert sentences[0].startswith("0 of 1 reasoning model is less safe")


def test_provenance_names_sources_packages_and_judges():
    from think_in_safety.report import collect_provenance

    config = {
        "benchmarks": {"figstep": {"source": "demo"}},
        "models": {"m": {"weights": "hf:org/m", "base": None, "thought_format": "none", "verified": False}},
    }
    provenance = collect_provenance(config, judge_identities=[JUDGE, JUDGE])
    assert provenance["benchmark sources"] == {"figstep": "demo"}
    assert provenance["models"]["m"]["weights"] == "hf:org/m"
    assert provenance["models"]["m"]["verified"] is False
    assert provenance["judges"] == [JUDGE]
    assert provenance["packages"]["pandas"] == pd.__version__
    assert len(provenance["config digest (sha256)"]) == 16
    assert collect_provenance(config)["config digest (sha256)"] == provenance["config digest (sha256)"]


def test_examples_are_loaded_per_benchmark_from_files(tmp_path):
    from think_in_safety.report import load_examples

    prompts, responses, judgments = tables()
    paths = {}
    for name, frame in (("prompts", prompts), ("responses", responses), ("judgments", judgments)):
        paths[name] = tmp_path / name / "figstep.parquet"
        paths[name].parent.mkdir()
        frame.to_parquet(paths[name])
    examples = load_examples([paths["prompts"]], [paths["responses"]], [paths["judgments"]], per_model=2)
    assert len(examples) == 4  # two per model
    assert set(examples["benchmark"]) == {"figstep"}
    assert (examples["unsafe"] == 1.0).all()  # unsafe-judged responses are shown first


def test_metrics_markdown_has_one_section_per_benchmark():
    from think_in_safety.comparison import metrics_to_markdown

    prompts, _, judgments = tables()
    metrics = metrics_from_scores(unit_scores(prompts, judgments, "figstep"), n_boot=100)
    markdown = metrics_to_markdown(metrics)
    assert markdown.count("### figstep") == 1
    assert "| r1-onevision |" in markdown and "75.0 [" in markdown
