"""Rule write_chat_data: general visual chat in one answer style (no safety content)."""
from pathlib import Path

from think_in_safety.logs import rule_log
from think_in_safety.models import chat_data

with rule_log(snakemake.log[0]):
    chat_data.write_chat_data(
        Path(snakemake.output[0]),
        style=snakemake.wildcards.style,
        n_examples=snakemake.params.n_examples,
        seed=snakemake.params.seed,
    )
