"""Rule report_page: reports/report.html from the tables, examples and provenance."""
from pathlib import Path

import pandas as pd

from think_in_safety.logs import rule_log
from think_in_safety.report import collect_provenance, load_examples, render_report

with rule_log(snakemake.log[0]):
    examples = load_examples(snakemake.input.prompts, snakemake.input.responses, snakemake.input.judgments)
    render_report(
        # CSV writes both NaN and the overall group "" as empty cells
        comparison=pd.read_csv(snakemake.input.collapse).fillna({"group": ""}),
        metrics=pd.read_csv(snakemake.input.metrics).fillna({"group": ""}),
        examples=examples,
        provenance=collect_provenance(
            snakemake.params.config, judge_identities=list(examples["judge"].unique())
        ),
        out_html=Path(snakemake.output[0]),
    )
