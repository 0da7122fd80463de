"""Rule metrics: the benchmark's own metric with bootstrap CIs, and the per-prompt scores."""
import pandas as pd

from think_in_safety.logs import rule_log
from think_in_safety.metrics import metrics_from_scores, unit_scores

with rule_log(snakemake.log[0]) as log:
    units = unit_scores(
        pd.read_parquet(snakemake.input.prompts),
        pd.read_parquet(snakemake.input.judgments),
        benchmark=snakemake.wildcards.benchmark,
    )
    metrics = metrics_from_scores(units, n_boot=snakemake.params.n_boot, seed=snakemake.params.seed)
    units.to_parquet(snakemake.output.units, index=False)
    metrics.to_parquet(snakemake.output.metrics, index=False)
    log.info("%d units, %d metric rows", len(units), len(metrics))
