"""Rule write_demo_benchmark: a demo release in the benchmark's upstream format."""
from pathlib import Path

from think_in_safety.benchmarks import get_benchmark
from think_in_safety.logs import rule_log

with rule_log(snakemake.log[0]) as log:
    benchmark = get_benchmark(snakemake.wildcards.benchmark)
    benchmark.write_demo(Path(snakemake.output[0]), seed=snakemake.params.seed)
    log.info("wrote demo release of %s to %s", benchmark.name, snakemake.output[0])
