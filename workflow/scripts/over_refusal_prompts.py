"""Rule over_refusal_prompts: the benign-question probe's prompt table and images."""
from think_in_safety.logs import rule_log
from think_in_safety.over_refusal import write_probe

with rule_log(snakemake.log[0]) as log:
    table = write_probe(snakemake.output.images, seed=snakemake.params.seed)
    table.to_parquet(snakemake.output.prompts, index=False)
    log.info("%d benign questions", len(table))
