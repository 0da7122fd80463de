"""Rule prompts: upstream release -> the normalized prompt table."""
from pathlib import Path

from think_in_safety.benchmarks import get_benchmark
from think_in_safety.logs import rule_log

with rule_log(snakemake.log[0]) as log:
    benchmark = get_benchmark(snakemake.wildcards.benchmark)
    prompts = benchmark.load_prompts(Path(snakemake.input.release), dict(snakemake.params.options))
    # the official texts the options asked for ride in prompts.attrs: pandas writes them into the
    # parquet file's metadata and restores them on reading, so the judge sends the same texts
    prompts.to_parquet(snakemake.output[0], index=False)
    log.info("prompt texts %s; official texts for the judge: %s", sorted(set(prompts["text_source"])),
             prompts.attrs.get("official_texts", {}).get("source", "none"))
    log.info("%d prompts; per subset: %s", len(prompts), prompts.groupby("subset").size().to_dict())
