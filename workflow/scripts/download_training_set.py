"""Rule download_training_set: the real release from its upstream URLs.

Mirrors and the data lock come from the config itself (``mirrors``, ``downloads.lock_file``), not
from rule params: a changed mirror moves no data, so it must not make Snakemake download again.
"""
from think_in_safety import download
from think_in_safety.logs import rule_log
from think_in_safety.training_sets import get_format

with rule_log(snakemake.log[0]) as log:
    settings = download.settings_of(snakemake.config)
    with download.configured(**settings):
        get_format(snakemake.params.format).fetch(
            snakemake.params.source, snakemake.output[0], dict(snakemake.params.options)
        )
    log.info("downloaded %s from %s (data lock %s)", snakemake.wildcards.training_set,
             snakemake.params.source, settings["lock_file"] or "off")
