# Helpers shared by every stage: config validation, registry lookups, target lists.
from pathlib import Path

from think_in_safety.config import (
    model_decoding,
    reasoning_pairs,
    validate_config,
    weights_location,
)

validate_config(config, workflow.source_path("../schemas/config.schema.yaml"))

BENCHMARKS = list(config["benchmarks"])
MODELS = list(config["models"])
JUDGE_OF = {name: bench["judge"] for name, bench in config["benchmarks"].items()}


wildcard_constraints:
    benchmark="|".join(BENCHMARKS),
    model="[A-Za-z0-9][A-Za-z0-9._+-]*",
    judge="[A-Za-z0-9][A-Za-z0-9._-]*",
    style="direct|think_tags|llava_cot_stages",
    seed=r"\d+",


def all_targets():
    """Every final file the config asks for."""
    return [
        "results/tables/collapse.csv",
        "results/tables/collapse.md",
        "results/tables/benchmark_metrics.csv",
        "results/tables/benchmark_metrics.md",
        "reports/report.html",
    ]


# --- benchmarks ---------------------------------------------------------------------------


def benchmark_source(benchmark):
    return config["benchmarks"][benchmark]["source"]


def is_url(source):
    return source.startswith(("http://", "https://"))


def release_dir(benchmark):
    """The benchmark's release in its upstream layout: demo, downloaded, or a local directory."""
    source = benchmark_source(benchmark)
    if source == "demo":
        return f"resources/benchmarks/demo/{benchmark}"
    if is_url(source):
        return f"resources/benchmarks/upstream/{benchmark}"
    return source


def release_input(wildcards):
    return release_dir(wildcards.benchmark)


# --- models -------------------------------------------------------------------------------


def built_models():
    return [m for m in MODELS if config["models"][m]["weights"] == "built"]


def tuning_start(wildcards):
    """The directory a built model is tuned from: a random init or another built model."""
    build = config["models"][wildcards.model]["build"]
    if build["start"] == "init":
        return f"resources/tiny_zoo/init/seed{build['init_seed']}"
    return f"resources/models/{build['start']}"


def chat_data_for(wildcards):
    return f"resources/tiny_zoo/chat_data/{config['models'][wildcards.model]['build']['style']}"


def tuning_hyperparameters(wildcards):
    """tiny_zoo.tuning, overridden by the model's own build.tuning, and the study's seed."""
    build = config["models"][wildcards.model]["build"]
    return {**config["tiny_zoo"]["tuning"], **build["tuning"], "seed": config["seed"]}


def model_input(wildcards):
    """Built models are inputs of generation; hub ids and local paths are not tracked."""
    if config["models"][wildcards.model]["weights"] == "built":
        return weights_location(config, wildcards.model)
    return []


# --- judgments and metrics ----------------------------------------------------------------


def judgments_of(model, benchmark):
    return f"results/judgments/{JUDGE_OF[benchmark]}/{model}/{benchmark}.parquet"


def all_judgments():
    return [judgments_of(m, b) for m in MODELS for b in BENCHMARKS]


def all_metrics():
    return [
        f"results/metrics/{JUDGE_OF[b]}/{m}/{b}.parquet"
        for m in MODELS
        for b in BENCHMARKS
    ]


def all_unit_scores():
    """Per-prompt safety scores: the paired bootstrap of the collapse table resamples them."""
    return [path.replace(".parquet", ".units.parquet") for path in all_metrics()]
