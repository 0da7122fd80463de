# Metrics as each benchmark defines them, with seeded bootstrap CIs, and the tables.


rule metrics:
    """Each benchmark's own metric, overall and per subset/category, with 95% CIs."""
    input:
        prompts="results/prompts/{benchmark}.parquet",
        judgments="results/judgments/{judge}/{model}/{benchmark}.parquet",
    output:
        metrics="results/metrics/{judge}/{model}/{benchmark}.parquet",
        units="results/metrics/{judge}/{model}/{benchmark}.units.parquet",
    log:
        "logs/metrics/{judge}/{model}/{benchmark}.log",
    benchmark:
        "benchmarks/metrics/{judge}/{model}/{benchmark}.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        **SMALL_JOB,
    params:
        n_boot=config["metrics"]["bootstrap_resamples"],
        seed=config["seed"],
    script:
        "../scripts/metrics.py"


rule benchmark_metrics_table:
    """Every model's metrics on every benchmark in one table."""
    input:
        all_metrics(),
    output:
        csv=report(
            "results/tables/benchmark_metrics.csv",
            category="Tables",
            labels={"table": "benchmark metrics"},
            caption="../report/benchmark_metrics.rst",
        ),
        md="results/tables/benchmark_metrics.md",
        tex="results/tables/benchmark_metrics.tex",
    log:
        "logs/benchmark_metrics_table/table.log",
    benchmark:
        "benchmarks/benchmark_metrics_table/table.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        **SMALL_JOB,
    script:
        "../scripts/benchmark_metrics_table.py"


rule collapse_table:
    """Every reasoning model against its base on every benchmark: values, deltas, paired CIs."""
    input:
        all_unit_scores(),
    output:
        csv=report(
            "results/tables/collapse.csv",
            category="Tables",
            labels={"table": "reasoning vs base"},
            caption="../report/collapse.rst",
        ),
        md="results/tables/collapse.md",
        tex="results/tables/collapse.tex",
    log:
        "logs/collapse_table/table.log",
    benchmark:
        "benchmarks/collapse_table/table.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        **SMALL_JOB,
    params:
        pairs=reasoning_pairs(config),
        n_boot=config["metrics"]["bootstrap_resamples"],
        seed=config["seed"],
    script:
        "../scripts/collapse_table.py"
