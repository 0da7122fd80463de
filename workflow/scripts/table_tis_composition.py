"""Rule table_tis_composition: the TiS dataset card as counts per source, category, decision, filter."""
import json
from pathlib import Path

from think_in_safety import study_tables
from think_in_safety.logs import rule_log

with rule_log(snakemake.log[0]) as log:
    cards = [json.loads(Path(path).read_text()) for path in snakemake.input]
    table = study_tables.tis_composition(cards[0] if cards else None)
    table.write(snakemake.output.csv, snakemake.output.md, snakemake.output.tex)
    log.info("%d rows%s", len(table.data), "" if cards else ": no TiS dataset card in this configuration")
