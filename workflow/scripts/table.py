"""Rule table: one study table (CSV, Markdown, LaTeX) by the builder the catalog names for it."""
import json
from pathlib import Path

import pandas as pd

from think_in_safety import catalog, study_tables
from think_in_safety.logs import rule_log


def read(kind, files):
    """A builder argument from the rule's input of its name (catalog.Table.reads)."""
    paths = [files] if isinstance(files, str) else list(files)
    if kind == "parquet":  # per-benchmark tables, benchmark from the file name when missing
        return study_tables.read_per_benchmark(paths)
    if not paths:  # an optional table or document this configuration does not make
        return None
    if kind == "json":
        return json.loads(Path(paths[0]).read_text())
    # CSV writes the overall group "" as an empty cell
    return pd.read_csv(paths[0]).fillna({"group": ""})


with rule_log(snakemake.log[0]) as log:
    entry = catalog.table_of(snakemake.wildcards.table)
    arguments = {name: read(kind, snakemake.input[name]) for name, kind in entry.reads.items()}
    table = getattr(study_tables, entry.builder)(**arguments, **snakemake.params.options)
    table.write(snakemake.output.csv, snakemake.output.md, snakemake.output.tex)
    log.info("%s (%s) %d rows%s", snakemake.wildcards.table, entry.description, len(table.data),
             "" if len(table.data) else f": {table.empty_reason}")
