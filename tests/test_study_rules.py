"""The `table` and `figure` rules, run by Snakemake on a small synthetic study: each file is exactly
what the table's builder and the figure's drawing function write when called directly with the
inputs and options the catalog names, the jobs write their benchmark: files, the report's
wall-time table reads them, and `snakemake --report` files every table and figure under the
catalog's subcategory, labels and caption."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from think_in_safety import figures
from think_in_safety import study_tables as st
from think_in_safety.comparison import compare_to_base, write_comparison
from think_in_safety.metrics import metrics_from_scores, unit_scores
from think_in_safety.report import job_wall_times

from .test_workflow import snakemake
from .unit import synthetic_study as ss

MODELS = ["base-a", "reason-a"]
BENCHMARKS = ["figstep", "siuo"]
CONFIG = """seed: 0
benchmarks: {figstep: {}, siuo: {}}
models:
  base-a: {weights: built, build: {start: init, init_seed: 1, style: direct}}
  reason-a: {weights: built, base: base-a, thought_format: think_tags, build: {start: base-a, style: think_tags}}
judges:
  rule: {backend: rule}
  rule-thought: {backend: rule, judge_target: thought}
training_sets:
  vlguard: {format: vlguard}
  tis_assembled: {format: tis_assembly}
tis:
  sources: [{training_set: vlguard, answer: reference}]
"""
TABLES = ["safety_variation", "headline", "categories/siuo", "thought_length", "thought_vs_answer", "finetuning",
          "tis_composition"]
FIGURES = ["benchmark_results", "categories/siuo", "tis_composition"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """What the rules before `table` leave: prompts, responses, judgments, metrics, the collapse
    and metrics tables, the TiS dataset card; no fine-tuning in this configuration."""
    root = tmp_path_factory.mktemp("study_rules")
    paths = ss.write_study(root, models=MODELS, benchmarks=BENCHMARKS)
    prompts = {Path(p).stem: pd.read_parquet(p) for p in paths["prompts"]}
    judgments = st.read_per_benchmark(paths["judgments"])
    scores = pd.concat([unit_scores(prompts[b], judgments[judgments["benchmark"] == b].drop(columns="benchmark"), b)
                        for b in BENCHMARKS], ignore_index=True)
    metrics = metrics_from_scores(scores, n_boot=50)
    tables = root / "results" / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    write_comparison(compare_to_base(scores, {"reason-a": "base-a"}, n_boot=50), tables / "collapse.csv",
                     tables / "collapse.md")
    metrics.to_csv(tables / "benchmark_metrics.csv", index=False)
    for (model, benchmark), part in metrics.groupby(["model", "benchmark"]):
        target = root / f"results/metrics/rule/{model}/{benchmark}.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        part.to_parquet(target, index=False)
    (root / "config.yaml").write_text(CONFIG)
    targets = [f"results/tables/{t}.csv" for t in TABLES] + [f"results/figures/{f}.png" for f in FIGURES]
    snakemake(*targets, "--configfile", "config.yaml", "--cores", "2", "--allowed-rules", "table", "figure",
              cwd=root)
    return root, paths


def expected_tables(root: Path, paths) -> dict[str, st.StudyTable]:
    """Each table built by calling its builder directly, as the table rule's script must."""
    results = root / "results"
    read = st.read_per_benchmark
    thinkers = [p for p in paths["responses"] if "/reason-a/" in p]
    answers = [p for p in paths["judgments"] if "/reason-a/" in p]
    thoughts = [p for p in paths["thought_judgments"] if "/reason-a/" in p]
    return {
        "safety_variation": st.safety_variation(pd.read_csv(results / "tables/collapse.csv").fillna({"group": ""}),
                                                model_order=MODELS),
        "headline": st.headline(pd.read_csv(results / "tables/benchmark_metrics.csv").fillna({"group": ""}),
                                model_order=MODELS),
        "categories/siuo": st.categories(read([results / f"metrics/rule/{m}/siuo.parquet" for m in MODELS]), "siuo",
                                         model_order=MODELS),
        "thought_length": st.thought_length(read(thinkers), read(answers), read(paths["prompts"]), n_bins=4,
                                            model_order=MODELS),
        "thought_vs_answer": st.thought_vs_answer(read(answers), read(thoughts),
                                                  read(paths["prompts"]), model_order=MODELS),
        "finetuning": st.finetuning(None, model_order=MODELS),
        "tis_composition": st.tis_composition(json.loads((results / "tis/dataset_card.json").read_text())),
    }


def test_tables_are_what_their_builders_write(study, tmp_path):
    root, paths = study
    for name, table in expected_tables(root, paths).items():
        table.write(tmp_path / "t.csv", tmp_path / "t.md", tmp_path / "t.tex")
        for ext in ("csv", "md", "tex"):
            made = (root / f"results/tables/{name}.{ext}").read_bytes()
            assert made == (tmp_path / f"t.{ext}").read_bytes(), (name, ext)
    assert len(pd.read_csv(root / "results/tables/thought_vs_answer.csv")) > 0  # thoughts were judged
    assert "no model is fine-tuned" in (root / "results/tables/finetuning.md").read_text()


def test_figures_are_what_their_drawing_functions_draw(study, tmp_path):
    root, _ = study
    drawn = {"benchmark_results": ("headline", {"pairs": {"reason-a": "base-a"}}),
             "categories/siuo": ("categories/siuo", {}), "tis_composition": ("tis_composition", {})}
    for name, (table, options) in drawn.items():
        figures.make_figure(name.split("/")[0], root / f"results/tables/{table}.csv", tmp_path / "f.png",
                            tmp_path / "f.svg", **options)
        for ext in ("png", "svg"):
            assert (root / f"results/figures/{name}.{ext}").read_bytes() == (tmp_path / f"f.{ext}").read_bytes(), name


def test_jobs_write_benchmark_files_the_report_reads(study):
    root, _ = study
    for name in TABLES:
        assert (root / f"benchmarks/table/{name}.tsv").is_file(), name
    for name in FIGURES:
        assert (root / f"benchmarks/figure/{name}.tsv").is_file(), name
    times = job_wall_times(root / "benchmarks").set_index("rule")
    assert times.loc["table", "jobs"] == len(TABLES) and times.loc["figure", "jobs"] == len(FIGURES)
    assert (times["total_s"] > 0).all()


def test_snakemake_report_files_each_table_and_figure_from_the_catalog(study):
    root, _ = study
    targets = ["results/tables/categories/siuo.csv", "results/figures/categories/siuo.png",
               "results/figures/benchmark_results.png"]
    snakemake(*targets, "--configfile", "config.yaml", "--allowed-rules", "table", "figure", "--report",
              "report.zip", cwd=root)
    with zipfile.ZipFile(root / "report.zip") as archive:
        page = archive.read(next(n for n in archive.namelist() if n.endswith("report.html"))).decode()
    records = {}
    for path in targets:
        start = page.index(json.dumps(path) + ": {")
        records[path] = page[start:start + 4000]
    heatmap = records["results/figures/categories/siuo.png"]
    assert '"labels": {"figure": "categories", "benchmark": "siuo"}' in heatmap
    assert "One benchmark broken down by the benchmark" in heatmap  # categories.rst
    assert '"labels": {"table": "categories", "benchmark": "siuo"}' in records["results/tables/categories/siuo.csv"]
    assert "Colour marks the model" in records["results/figures/benchmark_results.png"]  # benchmark_results.rst
    assert "2 Results per benchmark" in page
