"""Rules figure_*: one figure (PNG + SVG) drawn from its table."""
from think_in_safety.figures import make_figure
from think_in_safety.logs import rule_log

with rule_log(snakemake.log[0]):
    make_figure(
        snakemake.params.figure,
        snakemake.input.table,
        snakemake.output.png,
        snakemake.output.svg,
        **snakemake.params.options,
    )
