"""Rule table_safety_variation: each reasoning model's change in safety against its base."""
import pandas as pd

from think_in_safety import study_tables
from think_in_safety.logs import rule_log

with rule_log(snakemake.log[0]) as log:
    # CSV writes the overall group "" as an empty cell
    comparison = pd.read_csv(snakemake.input[0]).fillna({"group": ""})
    table = study_tables.safety_variation(comparison, model_order=snakemake.params.models)
    table.write(snakemake.output.csv, snakemake.output.md, snakemake.output.tex)
    log.info("%d rows", len(table.data))
