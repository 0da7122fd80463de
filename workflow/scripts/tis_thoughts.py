"""Rule tis_thoughts: a safety thought (and where asked, an answer) per source item."""
import pandas as pd

from think_in_safety.logs import rule_log
from think_in_safety.tis.policy import load_policy
from think_in_safety.tis.writers import write_thoughts

with rule_log(snakemake.log[0]) as log:
    thoughts = write_thoughts(
        pd.read_parquet(snakemake.input.sources),
        pd.read_parquet(snakemake.input.captions),
        load_policy(snakemake.params.policy),
        settings=dict(snakemake.params.settings),
        seed=snakemake.params.seed,
        checkpoint=snakemake.params.checkpoint,
        log=log.info,
    )
    thoughts.to_parquet(snakemake.output[0], index=False)
    log.info("%d thoughts by %s", len(thoughts), thoughts["writer"].iloc[0])
