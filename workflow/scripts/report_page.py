"""Rule report_page: reports/report.html from the tables, examples and provenance."""
from pathlib import Path

import pandas as pd

from think_in_safety.logs import rule_log
from think_in_safety.report import collect_provenance, pick_examples, render_report

with rule_log(snakemake.log[0]):
    render_report(
        comparison=pd.read_csv(snakemake.input.collapse),
        metrics=pd.read_csv(snakemake.input.metrics),
        examples=pick_examples(snakemake.input.responses, snakemake.input.judgments),
        provenance=collect_provenance(snakemake.params.config),
        out_html=Path(snakemake.output[0]),
    )
