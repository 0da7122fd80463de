"""Rule table_finetuning: the fine-tuning comparison arranged for its figures (empty without SFT)."""
import pandas as pd

from think_in_safety import study_tables
from think_in_safety.logs import rule_log

with rule_log(snakemake.log[0]) as log:
    comparison = pd.read_csv(snakemake.input[0]) if len(snakemake.input) else None
    table = study_tables.finetuning(comparison, model_order=snakemake.params.models)
    table.write(snakemake.output.csv, snakemake.output.md, snakemake.output.tex)
    log.info("%d rows%s", len(table.data), "" if len(table.data) else ": no fine-tuned models")
