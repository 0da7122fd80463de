"""Rule over_refusal_responses: one model's responses to the benign-question probe (24 prompts,
the transformers backend for every model)."""
from pathlib import Path

import pandas as pd
import torch

from think_in_safety.logs import rule_log
from think_in_safety.models import generate

with rule_log(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    generate.generate_responses(
        pd.read_parquet(snakemake.input.prompts),
        model_name=snakemake.wildcards.model,
        model_path=snakemake.params.weights,
        thought_format=snakemake.params.thought_format,
        decoding=dict(snakemake.params.decoding),
        out_path=Path(snakemake.output[0]),
        batch_size=snakemake.params.batch_size,
        seed=snakemake.params.seed,
        log=log.info,
    )
