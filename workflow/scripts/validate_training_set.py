"""Rule validate_training_set: every record through LLaMA-Factory's loader and processor."""
from pathlib import Path

from think_in_safety import sft
from think_in_safety.logs import rule_log
from think_in_safety.training_sets.validate import raise_if_rejected, validate_set, write_validation

with rule_log(snakemake.log[0]) as log:
    config = sft.train_config(
        sft.load_template(snakemake.input.template),
        model_dir=snakemake.params.weights,
        dataset_dir=snakemake.input.dataset,
        dataset_name=snakemake.wildcards.training_set,
        output_dir=Path("results/sft/.validation_unused"),
        chat_template=snakemake.params.chat_template,
        # parsed as on CPU: validation encodes records, it trains nothing (no bf16 check on a CPU node)
        hyper={**snakemake.params.hyper, "device": "cpu"},
        seed=snakemake.params.seed,
    )
    table, summary = validate_set(config)
    write_validation(table, summary, snakemake.output.table, snakemake.output.summary)
    log.info("%s", summary)
    raise_if_rejected(summary, table, snakemake.params.max_rejected_share, snakemake.output.table)
