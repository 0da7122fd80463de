"""The workflow as a user runs it: lint, formatting, planning the real study, and one
end-to-end run of the whole DAG on a small embedded config (tests/e2e/config.yaml)."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from think_in_safety.tables import JUDGMENT_COLUMNS, PROMPT_COLUMNS, RESPONSE_COLUMNS

from .conftest import REPO

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HF_HUB_OFFLINE": "1"}
BENCHMARKS = ["figstep", "mm_safetybench", "jailbreakv", "siuo", "mssbench"]


def snakemake(*args, cwd=REPO, timeout=1500):
    command = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), *args]
    result = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
    return result.stdout + result.stderr


def test_lint_has_no_findings():
    output = snakemake("--lint")
    assert "Lints for" not in output, output


def test_snakefmt_clean():
    result = subprocess.run(
        [str(BIN / "snakefmt"), "--check", "."], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_paper_study_plans_every_model_on_every_benchmark():
    output = snakemake("-n", "--configfile", "config/paper.yaml", "--quiet", "rules")
    counts = {
        line.split()[0]: int(line.split()[1])
        for line in output.splitlines()
        if len(line.split()) == 2 and line.split()[1].isdigit()
    }
    # six registry models, and R1-Onevision and LLaVA-CoT fine-tuned on five sets, x five benchmarks
    assert counts["generate"] == (6 + 2 * 5) * 5
    # the four converters, TiS assembled from VLGuard + SPA-VL, SFT of both models on each set
    assert counts["download_training_set"] == counts["convert_training_set"] == 4
    assert counts["tis_sources"] == counts["tis_dataset"] == 1
    assert counts["validate_training_set"] == counts["sft"] == 10
    assert counts["download_benchmark"] == 5
    assert "tune_tiny_model" not in counts  # the real study builds no tiny models


@pytest.mark.e2e
def test_whole_dag_end_to_end(tmp_path):
    config = str(REPO / "tests/e2e/config.yaml")
    snakemake("--cores", "2", "--configfile", config, "--directory", str(tmp_path))

    for benchmark in BENCHMARKS:
        prompts = pd.read_parquet(tmp_path / f"results/prompts/{benchmark}.parquet")
        assert list(prompts.columns[: len(PROMPT_COLUMNS)]) == list(PROMPT_COLUMNS)
        assert len(prompts) > 0
        for model in ["tiny-vl-a", "tiny-vl-a-think"]:
            responses = pd.read_parquet(tmp_path / f"results/responses/{model}/{benchmark}.parquet")
            assert set(RESPONSE_COLUMNS) <= set(responses.columns)
            assert len(responses) == prompts["n_samples"].sum()
            judged = pd.read_parquet(tmp_path / f"results/judgments/rule/{model}/{benchmark}.parquet")
            assert set(JUDGMENT_COLUMNS) <= set(judged.columns)
            assert (judged["judge"].str.len() > 0).all()

    # Even after this short tuning the reasoner writes its thought tags (full tuning: make demo).
    think = pd.read_parquet(tmp_path / "results/responses/tiny-vl-a-think/figstep.parquet")
    assert think["raw"].str.contains("think>").all(), think["raw"].head().tolist()
    base = pd.read_parquet(tmp_path / "results/responses/tiny-vl-a/figstep.parquet")
    assert not base["raw"].str.contains("think>").any()

    collapse = pd.read_csv(tmp_path / "results/tables/collapse.csv")
    assert set(collapse["benchmark"]) == set(BENCHMARKS)
    assert (collapse["reasoning_model"] == "tiny-vl-a-think").all()
    assert (tmp_path / "results/tables/collapse.md").read_text().strip()
    html = (tmp_path / "reports/report.html").read_text()
    assert "tiny-vl-a-think" in html

    # Every figure (PNG + SVG) and table (CSV + Markdown + LaTeX) is a file; the report embeds them.
    for figure in ["safety_variation", "benchmark_results", "thought_length", "thought_vs_answer", "finetuning",
                   "finetuning_tradeoff", "tis_composition", *(f"categories/{b}" for b in BENCHMARKS)]:
        for ext in ("png", "svg"):
            assert (tmp_path / f"results/figures/{figure}.{ext}").stat().st_size > 0, figure
    for table in ["safety_variation", "headline", "thought_length", "thought_vs_answer", "finetuning",
                  "tis_composition", "collapse", "benchmark_metrics", *(f"categories/{b}" for b in BENCHMARKS)]:
        for ext in ("csv", "md", "tex"):
            assert (tmp_path / f"results/tables/{table}.{ext}").exists(), (table, ext)
    assert len(pd.read_csv(tmp_path / "results/tables/thought_vs_answer.csv")) > 0  # the thoughts were judged
    assert 'id="thought-vs-answer"' in html and "data:image/png;base64," in html and "<script" not in html

    # Regenerating one figure or table reruns only what it needs.
    def planned(*targets):
        output = snakemake("-n", "--quiet", "rules", "--configfile", config, "--directory", str(tmp_path), *targets)
        rows = [line.split() for line in output.splitlines()]
        return {row[0]: int(row[1]) for row in rows if len(row) == 2 and row[1].isdigit() and row[0] != "total"}

    svg = tmp_path / "results/figures/thought_length.svg"
    svg.rename(tmp_path / "aside.svg")
    assert planned("results/figures/thought_length.svg") == {"figure_thought_length": 1}
    (tmp_path / "aside.svg").rename(svg)  # back, with its time: the workflow stays complete
    assert planned("results/figures/safety_variation.png", "--forcerun", "table_safety_variation") == {
        "table_safety_variation": 1, "figure_safety_variation": 1}
    assert planned("results/figures/categories/siuo.png", "--forcerun", "table_categories") == {
        "table_categories": 1, "figure_categories": 1}

    # The results are annotated for Snakemake's own report.
    snakemake("--configfile", config, "--directory", str(tmp_path), "--report", "snakemake-report.zip")
    assert (tmp_path / "snakemake-report.zip").stat().st_size > 0

    # A second run has nothing to do.
    output = snakemake("-n", "--configfile", config, "--directory", str(tmp_path))
    assert "Nothing to be done" in output, output[-2000:]
