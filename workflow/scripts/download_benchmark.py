"""Rule download_benchmark: the real release from its upstream URLs."""
from pathlib import Path

from think_in_safety.benchmarks import get_benchmark
from think_in_safety.logs import rule_log

with rule_log(snakemake.log[0]) as log:
    benchmark = get_benchmark(snakemake.wildcards.benchmark)
    benchmark.fetch(snakemake.params.source, Path(snakemake.output[0]), dict(snakemake.params.options))
    log.info("downloaded %s from %s", benchmark.name, snakemake.params.source)
