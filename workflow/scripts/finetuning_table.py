"""Rule finetuning_table: tuned reasoning models against their untuned selves."""
from pathlib import Path

import pandas as pd

from think_in_safety import finetuning
from think_in_safety.logs import rule_log


def read_all(paths, **columns):
    frames = [pd.read_parquet(path).assign(**{k: f(path) for k, f in columns.items()}) for path in paths]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


with rule_log(snakemake.log[0]) as log:
    scores = read_all(snakemake.input.scores)
    responses = read_all(snakemake.input.responses, benchmark=lambda path: Path(path).stem)
    probe = read_all(snakemake.input.probe)
    strata = finetuning.stratified_judgments(
        read_all(snakemake.input.strata_judgments, benchmark=lambda path: Path(path).stem),
        read_all(snakemake.input.strata_prompts),
    )
    table = finetuning.finetuning_table(
        scores,
        responses,
        probe,
        strata,
        groups={model: [tuple(pair) for pair in pairs] for model, pairs in snakemake.params.groups.items()},
        labels=dict(snakemake.params.labels),
        n_boot=snakemake.params.n_boot,
        seed=snakemake.params.seed,
    )
    table.to_csv(snakemake.output.csv, index=False)
    Path(snakemake.output.md).write_text(finetuning.to_markdown(table), encoding="utf-8")
    log.info("%d rows", len(table))
