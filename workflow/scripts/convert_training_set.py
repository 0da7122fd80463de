"""Rule convert_training_set: a release -> LLaMA-Factory sharegpt set (+ conversion.json)."""
from think_in_safety.logs import rule_log
from think_in_safety.training_sets import get_format

with rule_log(snakemake.log[0]) as log:
    report = get_format(snakemake.params.format).convert(
        snakemake.input.release,
        snakemake.output[0],
        name=snakemake.wildcards.training_set,
        options=dict(snakemake.params.options),
    )
    summary = report.as_dict()
    log.info(
        "%s: read %d, wrote %d, dropped %d %s",
        snakemake.wildcards.training_set,
        summary["records_read"],
        summary["records_written"],
        summary["records_dropped"],
        summary["dropped_by_reason"],
    )
