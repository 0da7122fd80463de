"""Rule tis_captions: one caption per source image."""
import pandas as pd

from think_in_safety.logs import rule_log
from think_in_safety.tis.captions import caption_images

with rule_log(snakemake.log[0]) as log:
    captions = caption_images(
        pd.read_parquet(snakemake.input.sources),
        image_dir=snakemake.input.images,
        settings=dict(snakemake.params.settings),
        releases=dict(snakemake.params.releases),
    )
    captions.to_parquet(snakemake.output[0], index=False)
    log.info("%d captions by %s", len(captions), captions["captioner"].iloc[0])
