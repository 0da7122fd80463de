"""Rule build_tiny_init: a randomly initialised tiny Qwen2.5-VL."""
from pathlib import Path

from think_in_safety.logs import rule_log
from think_in_safety.models import zoo

with rule_log(snakemake.log[0]):
    zoo.build_tiny_model(
        Path(snakemake.input.tokenizer), Path(snakemake.output[0]), seed=int(snakemake.wildcards.seed)
    )
