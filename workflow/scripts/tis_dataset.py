"""Rule tis_dataset: the assembled TiS as a LLaMA-Factory set, and its dataset card."""
import pandas as pd

from think_in_safety.logs import rule_log
from think_in_safety.tis import dataset

with rule_log(snakemake.log[0]) as log:
    sources = pd.read_parquet(snakemake.input.sources)
    thoughts = pd.read_parquet(snakemake.input.thoughts)
    filtered = pd.read_parquet(snakemake.input.filtered)
    captions = pd.read_parquet(snakemake.input.captions)
    settings = snakemake.params.config
    merged = dataset.build_dataset(
        sources, thoughts, filtered, snakemake.input.images, snakemake.output.dataset, snakemake.params.name
    )
    writer = thoughts["writer"].iloc[0]
    provenance = {
        "sources": [
            {
                "name": s["training_set"],
                "format": snakemake.params.formats[s["training_set"]],
                "release": snakemake.params.releases[s["training_set"]],
                "answer_source": s.get("answer", "reference"),
                "limit": s.get("limit"),
            }
            for s in settings["sources"]
        ],
        "captioner": captions["captioner"].iloc[0],
        "writer": writer,
        "embedding_model": settings["filters"]["embedding_model"]
        if settings["filters"]["near_duplicate_threshold"]
        else None,
        "policy": settings["policy"] or "packaged data/tis_policy.yaml",
        "seed": snakemake.params.seed,
        "notes": ["thoughts by the offline template writer: composed from the policy, not written by a language model"]
        if writer.startswith("template:")
        else [],
    }
    card = dataset.dataset_card(merged, filtered, provenance, snakemake.params.name)
    dataset.write_card(card, snakemake.output.card, snakemake.output.card_md)
    log.info("%d records in %s", card["records"], snakemake.output.dataset)
