"""Rule write_demo_training_set: a demo release in the training set's upstream format."""
from think_in_safety.logs import rule_log
from think_in_safety.training_sets import get_format

with rule_log(snakemake.log[0]) as log:
    get_format(snakemake.params.format).write_demo(
        snakemake.output[0], seed=snakemake.params.seed, options=dict(snakemake.params.options)
    )
    log.info("wrote a demo %s release to %s", snakemake.params.format, snakemake.output[0])
