"""Rule download_benchmark: the real release from its upstream URLs.

Mirrors and the data lock come from the config itself (``mirrors``, ``downloads.lock_file``), not
from rule params: a changed mirror moves no data, so it must not make Snakemake download again.
"""
from pathlib import Path

from think_in_safety import download
from think_in_safety.benchmarks import get_benchmark
from think_in_safety.logs import rule_log

with rule_log(snakemake.log[0]) as log:
    settings = download.settings_of(snakemake.config)
    benchmark = get_benchmark(snakemake.wildcards.benchmark)
    with download.configured(**settings):
        benchmark.fetch(snakemake.params.source, Path(snakemake.output[0]), dict(snakemake.params.options))
    log.info("downloaded %s from %s (data lock %s)", benchmark.name, snakemake.params.source,
             settings["lock_file"] or "off")
