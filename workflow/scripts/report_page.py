"""Rule report_page: reports/report.html from the tables, figures, examples and provenance."""
from pathlib import Path

import pandas as pd

from think_in_safety.logs import rule_log
from think_in_safety.report import (
    ReportInputs,
    collect_provenance,
    job_wall_times,
    judge_failure_rows,
    load_examples,
    read_generation_times,
    render_report,
)

with rule_log(snakemake.log[0]) as log:
    params = snakemake.params
    examples = load_examples(
        snakemake.input.prompts,
        snakemake.input.responses,
        snakemake.input.judgments,
        pairs=dict(params.pairs),
        thought_judgment_paths=snakemake.input.thought_judgments,
        model_order=params.models,
    )
    judges = set(examples["judge"].dropna())
    if "thought_judge" in examples.columns:
        judges |= set(examples["thought_judge"].dropna())
    render_report(
        # CSV writes both NaN and the overall group "" as empty cells
        comparison=pd.read_csv(snakemake.input.collapse).fillna({"group": ""}),
        metrics=pd.read_csv(snakemake.input.metrics).fillna({"group": ""}),
        examples=examples,
        provenance=collect_provenance(
            params.config, judge_identities=sorted(judges), code_dir=Path(snakemake.scriptdir).parents[1],
            prompt_paths=snakemake.input.prompts,  # sources as the prompt tables record them
        ),
        out_html=Path(snakemake.output[0]),
        inputs=ReportInputs(
            figures=dict(params.figures),
            tables=dict(params.tables),
            captions=dict(params.captions),
            benchmarks=list(params.benchmarks),
            model_order=list(params.models),
            prompts={Path(p).stem: pd.read_parquet(p) for p in snakemake.input.prompts},
            wall_times=job_wall_times(params.benchmark_dir),
            generation=read_generation_times(snakemake.input.responses),
            judge_failures=judge_failure_rows(
                [*snakemake.input.judgments, *snakemake.input.thought_judgments]
            ),
        ),
    )
    log.info("report with %d example rows", len(examples))
