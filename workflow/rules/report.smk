# Report: one self-contained HTML page a researcher reads.


rule report_page:
    """reports/report.html: findings, the figure groups of think_in_safety.catalog with their
    tables, a section per benchmark with examples, the reasoning-vs-base table, provenance.
    """
    input:
        collapse="results/tables/collapse.csv",
        metrics="results/tables/benchmark_metrics.csv",
        tables=list(study_table_csvs().values()),
        figures=list(study_figure_pngs().values()),
        prompts=expand("results/prompts/{benchmark}.parquet", benchmark=BENCHMARKS),
        judgments=all_judgments(),
        thought_judgments=thought_judgments(),
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
    benchmark:
        "benchmarks/report_page/report.tsv"
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        **SMALL_JOB,
    params:
        config=config,
        pairs=reasoning_pairs(config),
        models=MODELS,
        benchmarks=BENCHMARKS,
        tables=study_table_csvs(),
        figures=study_figure_pngs(),
        captions=report_captions(),
        # the wall-time table: every rule's benchmark: files (benchmarks/<rule>/...)
        benchmark_dir="benchmarks",
    script:
        "../scripts/report_page.py"
