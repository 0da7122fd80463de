"""Rule judge: the benchmark's judge on every response of one model."""
import pandas as pd

from think_in_safety.judges import make_judge
from think_in_safety.logs import rule_log

with rule_log(snakemake.log[0]) as log:
    judge = make_judge(snakemake.wildcards.judge, dict(snakemake.params.spec))
    judgments = judge.judge(
        pd.read_parquet(snakemake.input.prompts),
        pd.read_parquet(snakemake.input.responses),
        benchmark=snakemake.wildcards.benchmark,
    )
    judgments.to_parquet(snakemake.output[0], index=False)
    log.info("judge %s: %s", judge.identity, judgments["status"].value_counts().to_dict())
