"""Rule tis_sources: the TiS source items of the configured training-set releases."""
from think_in_safety.logs import rule_log
from think_in_safety.tis.policy import load_policy
from think_in_safety.tis.sources import collect_sources

with rule_log(snakemake.log[0]) as log:
    table = collect_sources(
        [dict(source) for source in snakemake.params.sources],
        load_policy(snakemake.params.policy),
        image_dir=snakemake.output.images,
        seed=snakemake.params.seed,
    )
    table.to_parquet(snakemake.output.table, index=False)
    log.info("%d items: %s", len(table), table.groupby(["source", "decision"]).size().to_dict())
