"""The workflow as a user runs it: lint, formatting, planning the real study, and one
end-to-end run of the whole DAG on a small embedded config (tests/e2e/config.yaml)."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from think_in_safety.tables import JUDGMENT_COLUMNS, PROMPT_COLUMNS, RESPONSE_COLUMNS

from .conftest import REPO

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HF_HUB_OFFLINE": "1"}
BENCHMARKS = ["figstep", "mm_safetybench", "jailbreakv", "siuo", "mssbench"]


def snakemake(*args, cwd=REPO, timeout=1500, env=None):
    command = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), *args]
    result = subprocess.run(command, cwd=cwd, env=env or ENV, capture_output=True, text=True, timeout=timeout)
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


def test_ruff_clean():
    """The Python lint `make lint` runs (pyproject.toml's [tool.ruff]) has no finding."""
    result = subprocess.run(
        [str(BIN / "ruff"), "check", "workflow", "tests", "tools"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def job_counts(output):
    """The dry run's "Job stats" table: rule -> number of jobs."""
    table = output[output.index("Job stats:") :].split("\n\n")[0]
    return {
        line.split()[0]: int(line.split()[1])
        for line in table.splitlines()
        if len(line.split()) == 2 and line.split()[1].isdigit()
    }


def planned_jobs(output):
    """Each planned job of a dry run as (rule, {resource: value})."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", output):
        match = re.match(r"(?:local)?rule (\w+):", block)
        resources = re.search(r"^\s+resources: (.*)$", block, re.M)
        if match:
            pairs = (item.split("=", 1) for item in (resources.group(1).split(", ") if resources else []))
            jobs.append((match.group(1), dict(pairs)))
    return jobs


def test_every_rule_declares_threads_and_resources():
    for smk in sorted((REPO / "workflow/rules").glob("*.smk")):
        for block in re.split(r"\n(?=rule )", smk.read_text()):
            name = re.match(r"rule (\w+):", block)
            if not name or name.group(1) == "all":
                continue
            assert "    threads:" in block, f"{smk.name}: rule {name.group(1)} declares no threads"
            resources = re.search(r"    resources:\n((?:        .*\n)+)", block)
            assert resources, f"{smk.name}: rule {name.group(1)} declares no resources"
            declared = resources.group(1)
            assert re.search(r"\*\*\w+_JOB|mem_mb=", declared) and re.search(
                r"\*\*\w+_JOB|runtime=", declared
            ), f"{smk.name}: rule {name.group(1)} must declare mem_mb and runtime"


def test_paper_study_plans_on_the_slurm_profile(tmp_path):
    # The shipped profile unchanged: it deploys each rule's conda env, so planning asks `conda`,
    # which no channel here can install; tests/fake_conda/conda answers those calls
    # (tests/test_env_deploy.py proves the envs themselves deploy).
    started = time.monotonic()
    output = snakemake(
        "-n", "--configfile", "config/paper.yaml", "--profile", "profiles/slurm",
        env={**ENV, "PATH": f"{REPO / 'tests/fake_conda'}{os.pathsep}{ENV['PATH']}",
             "FAKE_CONDA_PREFIX": str(tmp_path / "conda")},
    )
    assert time.monotonic() - started < 120
    counts = job_counts(output)
    # sixteen registry models (five bases, eleven reasoners), and R1-Onevision and LLaVA-CoT
    # fine-tuned on five sets: one generation job each, for all five benchmarks
    assert counts["generate"] == 16 + 2 * 5
    # the four converters, TiS assembled from VLGuard + SPA-VL, SFT of both models on each set
    assert counts["download_training_set"] == counts["convert_training_set"] == 4
    assert counts["tis_sources"] == counts["tis_dataset"] == 1
    assert counts["validate_training_set"] == counts["sft"] == 10
    assert counts["download_benchmark"] == 5
    assert counts["report_page"] == 1
    assert "tune_tiny_model" not in counts  # the real study builds no tiny models

    jobs = [(rule, res) for rule, res in planned_jobs(output) if rule != "all"]
    assert len(jobs) == counts["total"] - 1
    for rule, res in jobs:
        assert "mem_mb" in res and "runtime" in res, (rule, res)
        if rule in ("generate", "sft", "over_refusal_responses"):
            assert int(res["gpu"]) >= 1 and res["slurm_partition"] == "gpu", (rule, res)
        else:
            assert int(res.get("gpu", 0)) == 0 and res["slurm_partition"] == "cpu", (rule, res)
    sft = [res for rule, res in jobs if rule == "sft"]
    assert all(int(res["runtime"]) == 1440 and int(res["mem_mb"]) >= 64000 for res in sft)


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
    assert planned("results/figures/thought_length.svg") == {"figure": 1}
    (tmp_path / "aside.svg").rename(svg)  # back, with its time: the workflow stays complete
    assert planned("results/figures/safety_variation.png", "--forcerun", "table") == {"table": 1, "figure": 1}
    assert planned("results/figures/categories/siuo.png", "--forcerun", "table") == {"table": 1, "figure": 1}

    # The results are annotated for Snakemake's own report.
    snakemake("--configfile", config, "--directory", str(tmp_path), "--report", "snakemake-report.zip")
    assert (tmp_path / "snakemake-report.zip").stat().st_size > 0

    # A second run has nothing to do.
    output = snakemake("-n", "--configfile", config, "--directory", str(tmp_path))
    assert "Nothing to be done" in output, output[-2000:]
