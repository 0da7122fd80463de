"""Rule download_training_set: the real release from its upstream URLs."""
from think_in_safety.logs import rule_log
from think_in_safety.training_sets import get_format

with rule_log(snakemake.log[0]) as log:
    get_format(snakemake.params.format).fetch(
        snakemake.params.source, snakemake.output[0], dict(snakemake.params.options)
    )
    log.info("downloaded %s from %s", snakemake.wildcards.training_set, snakemake.params.source)
