"""Rule prompts: upstream release -> the normalized prompt table."""
from pathlib import Path

from think_in_safety.benchmarks import get_benchmark
from think_in_safety.benchmarks.common import record_source, release_of
from think_in_safety.logs import rule_log

with rule_log(snakemake.log[0]) as log:
    benchmark = get_benchmark(snakemake.wildcards.benchmark)
    prompts = benchmark.load_prompts(Path(snakemake.input.release), dict(snakemake.params.options))
    # what was read rides in prompts.attrs too (the report's provenance reads it back)
    record_source(prompts, snakemake.params.source)
    release = release_of(prompts)
    log.info("read %d files of %s (source %s), digest sha256 %s", release["files_read"], release["release_dir"],
             release["source"], release["sha256"])
    # the official texts the options asked for ride in prompts.attrs: pandas writes them into the
    # parquet file's metadata and restores them on reading, so the judge sends the same texts
    prompts.to_parquet(snakemake.output[0], index=False)
    log.info("prompt texts %s; official texts for the judge: %s", sorted(set(prompts["text_source"])),
             prompts.attrs.get("official_texts", {}).get("source", "none"))
    log.info("%d prompts; per subset: %s", len(prompts), prompts.groupby("subset").size().to_dict())
