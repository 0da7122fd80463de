"""Rule tis_filter: every filter counted, every dropped item with its reason."""
import pandas as pd

from think_in_safety.logs import rule_log
from think_in_safety.tis.filters import apply_filters, filter_counts

with rule_log(snakemake.log[0]) as log:
    items = pd.read_parquet(snakemake.input.sources).merge(pd.read_parquet(snakemake.input.thoughts), on="item_id")
    filtered = apply_filters(items, dict(snakemake.params.settings))
    filtered.to_parquet(snakemake.output[0], index=False)
    for entry in filter_counts(filtered):
        log.info("%s: checked %d, dropped %d %s", entry["filter"], entry["checked"], entry["dropped"], entry["reasons"])
