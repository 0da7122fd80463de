"""Rule merge_response_shards: the shard tables of one model and benchmark as one responses
table, the same as an unsharded run writes."""
import os
from pathlib import Path

import pandas as pd

from think_in_safety.logs import rule_log
from think_in_safety.models.shards import merge_shards

with rule_log(snakemake.log[0]) as log:
    tables = [pd.read_parquet(path) for path in snakemake.input.shards]
    merged = merge_shards(pd.read_parquet(snakemake.input.prompts), tables)
    out = Path(snakemake.output[0])
    temporary = out.with_name(f".{out.name}.tmp")
    merged.to_parquet(temporary, index=False)
    os.replace(temporary, out)
    log.info(f"{len(tables)} shards, {len(merged)} responses -> {out}")
