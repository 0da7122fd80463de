# Report: one self-contained HTML page a researcher reads.


rule report_page:
    """reports/report.html: the collapse table, per-benchmark metrics, examples, provenance."""
    input:
        collapse="results/tables/collapse.csv",
        metrics="results/tables/benchmark_metrics.csv",
        prompts=expand("results/prompts/{benchmark}.parquet", benchmark=BENCHMARKS),
        judgments=all_judgments(),
        responses=expand(
            "results/responses/{model}/{benchmark}.parquet",
            model=MODELS,
            benchmark=BENCHMARKS,
        ),
    output:
        report(
            "reports/report.html",
            category="Report",
            labels={"page": "study report"},
            caption="../report/report_page.rst",
        ),
    log:
        "logs/report_page/report.log",
    conda:
        "../../envs/data.yaml"
    params:
        config=config,
    script:
        "../scripts/report_page.py"
