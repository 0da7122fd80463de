"""Rule table_categories: one benchmark's metric per model and category (the heatmap's numbers)."""
import pandas as pd

from think_in_safety import study_tables
from think_in_safety.logs import rule_log

with rule_log(snakemake.log[0]) as log:
    metrics = pd.concat([pd.read_parquet(path) for path in snakemake.input], ignore_index=True)
    table = study_tables.categories(metrics, snakemake.wildcards.benchmark, model_order=snakemake.params.models)
    table.write(snakemake.output.csv, snakemake.output.md, snakemake.output.tex)
    log.info("%d rows", len(table.data))
