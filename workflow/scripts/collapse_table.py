"""Rule collapse_table: every reasoning model against its base, with paired bootstrap CIs."""
from pathlib import Path

import pandas as pd

from think_in_safety.comparison import compare_to_base, write_comparison
from think_in_safety.logs import rule_log
from think_in_safety.study_tables import collapse_to_latex

with rule_log(snakemake.log[0]):
    scores = pd.concat([pd.read_parquet(path) for path in snakemake.input], ignore_index=True)
    table = compare_to_base(
        scores,
        pairs=dict(snakemake.params.pairs),
        n_boot=snakemake.params.n_boot,
        seed=snakemake.params.seed,
    )
    write_comparison(table, snakemake.output.csv, snakemake.output.md)
    Path(snakemake.output.tex).write_text(collapse_to_latex(table))
