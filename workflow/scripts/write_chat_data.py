"""Rule write_chat_data: general visual chat in one answer style, and the alignment set."""
from pathlib import Path

from think_in_safety.logs import rule_log
from think_in_safety.models import chat_data

with rule_log(snakemake.log[0]):
    chat_data.write_chat_data(
        Path(snakemake.output[0]),
        style=snakemake.wildcards.style,
        n_examples=snakemake.params.n_examples,
        n_alignment=snakemake.params.n_alignment,
        seed=snakemake.params.seed,
    )
