"""Rules generate, generate_shard and over_refusal_responses: one model's responses to one
prompts table, or to one shard of it (generation.shards), resumable, with the backend the
registry names for it: transformers, vLLM or an API."""
from pathlib import Path

import pandas as pd

from think_in_safety.hub import check_weights_folder
from think_in_safety.logs import rule_log
from think_in_safety.models import backends, generate
from think_in_safety.models.shards import shard_prompts

# vLLM's engine spawns worker processes that re-import this file (docs/stack.md)
if __name__ == "__main__":
    with rule_log(snakemake.log[0]) as log:
        prompts = shard_prompts(
            pd.read_parquet(snakemake.input.prompts),
            shard=int(snakemake.wildcards.get("shard", 0)),
            shards=int(getattr(snakemake.params, "shards", 1)),
        )
        if snakemake.params.backend == "vllm":  # transformers: checked when it is built
            check_weights_folder(
                snakemake.params.weights, f"models.{snakemake.wildcards.model}.weights"
            )
        generate.generate_responses(
            prompts,
            model_name=snakemake.wildcards.model,
            model_path=snakemake.params.weights,
            thought_format=snakemake.params.thought_format,
            prompting=dict(snakemake.params.prompting),
            trust_remote_code=bool(snakemake.params.trust_remote_code),
            decoding=dict(snakemake.params.decoding),
            out_path=Path(snakemake.output[0]),
            batch_size=snakemake.params.batch_size,
            seed=snakemake.params.seed,
            log=log.info,
            warn=log.warning,
            backend=backends.make_backend(
                snakemake.params.backend,
                snakemake.params.weights,
                snakemake.params.decoding,
                snakemake.params.engine,
                snakemake.threads,
            ),
        )
