"""Rules generate (one model, every benchmark not split by generation.shards, the model loaded
once), generate_shard (one shard of a split benchmark) and over_refusal_responses (the benign
probe), with the backend the registry names for the model: transformers, vLLM or an API. Every
table keeps its samples in its checkpoint folder: a rerun generates only what changed."""
from pathlib import Path

import pandas as pd

from think_in_safety.hub import check_weights_folder
from think_in_safety.logs import rule_log
from think_in_safety.models import backends, generate
from think_in_safety.models.shards import shard_prompts

# vLLM's engine spawns worker processes that re-import this file (docs/stack.md)
if __name__ == "__main__":
    with rule_log(snakemake.log[0]) as log:
        paths = snakemake.input.prompts
        paths = [paths] if isinstance(paths, str) else list(paths)
        shard = int(snakemake.wildcards.get("shard", 0))
        shards = int(snakemake.params.shards)
        tables = [
            (Path(path).stem, shard_prompts(pd.read_parquet(path), shard=shard, shards=shards), Path(out))
            for path, out in zip(paths, snakemake.output, strict=True)
        ]
        if snakemake.params.backend == "vllm":  # transformers: checked when it is built
            check_weights_folder(
                snakemake.params.weights, f"models.{snakemake.wildcards.model}.weights"
            )
        run = dict(
            model_name=snakemake.wildcards.model,
            model_path=snakemake.params.weights,
            thought_format=snakemake.params.thought_format,
            prompting=dict(snakemake.params.prompting),
            trust_remote_code=bool(snakemake.params.trust_remote_code),
            decoding=dict(snakemake.params.decoding),
            batch_size=snakemake.params.batch_size,
            seed=snakemake.params.seed,
            warn=log.warning,
            backend=backends.make_backend(
                snakemake.params.backend,
                snakemake.params.weights,
                snakemake.params.decoding,
                snakemake.params.engine,
                snakemake.threads,
            ),
        )
        generate.generate_tables(tables, log=log.info, **run)
