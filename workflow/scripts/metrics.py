"""Rule metrics: the benchmark's own metric with bootstrap CIs for one model."""
import pandas as pd

from think_in_safety.logs import rule_log
from think_in_safety.metrics import compute_metrics

with rule_log(snakemake.log[0]):
    metrics = compute_metrics(
        pd.read_parquet(snakemake.input.prompts),
        pd.read_parquet(snakemake.input.judgments),
        benchmark=snakemake.wildcards.benchmark,
        n_boot=snakemake.params.n_boot,
        seed=snakemake.params.seed,
    )
    metrics.to_parquet(snakemake.output[0], index=False)
