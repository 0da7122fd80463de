"""Rule table_headline: every model's headline metric on every benchmark, with CIs."""
import pandas as pd

from think_in_safety import study_tables
from think_in_safety.logs import rule_log

with rule_log(snakemake.log[0]) as log:
    metrics = pd.read_csv(snakemake.input[0]).fillna({"group": ""})
    table = study_tables.headline(metrics, model_order=snakemake.params.models)
    table.write(snakemake.output.csv, snakemake.output.md, snakemake.output.tex)
    log.info("%d rows", len(table.data))
