"""Rule benchmark_metrics_table: every model's metrics in one CSV, Markdown and LaTeX table."""
from pathlib import Path

import pandas as pd

from think_in_safety.comparison import metrics_to_markdown
from think_in_safety.logs import rule_log
from think_in_safety.study_tables import metrics_to_latex

with rule_log(snakemake.log[0]):
    metrics = pd.concat([pd.read_parquet(path) for path in snakemake.input], ignore_index=True)
    metrics.to_csv(snakemake.output.csv, index=False)
    Path(snakemake.output.md).write_text(metrics_to_markdown(metrics))
    Path(snakemake.output.tex).write_text(metrics_to_latex(metrics))
