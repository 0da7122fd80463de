"""Rule collapse_table: every reasoning model against its base, with paired bootstrap CIs."""
from pathlib import Path

import pandas as pd

from think_in_safety.comparison import compare_to_base, to_markdown
from think_in_safety.logs import rule_log

with rule_log(snakemake.log[0]):
    prompts = {Path(path).stem: pd.read_parquet(path) for path in snakemake.input.prompts}
    judgments = pd.concat(
        [pd.read_parquet(path).assign(benchmark=Path(path).stem) for path in snakemake.input.judgments],
        ignore_index=True,
    )
    table = compare_to_base(
        prompts,
        judgments,
        pairs=dict(snakemake.params.pairs),
        n_boot=snakemake.params.n_boot,
        seed=snakemake.params.seed,
    )
    table.to_csv(snakemake.output.csv, index=False)
    Path(snakemake.output.md).write_text(to_markdown(table))
