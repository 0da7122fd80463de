"""Rule figure: one figure (PNG + SVG) drawn from its table by the function the catalog names."""
from think_in_safety import catalog
from think_in_safety.logs import rule_log

with rule_log(snakemake.log[0]) as log:
    from think_in_safety.figures import make_figure  # matplotlib, once the log is open

    entry = catalog.figure_of(snakemake.wildcards.figure)
    log.info("%s: %s", snakemake.wildcards.figure, entry.description)
    make_figure(
        entry.name,
        snakemake.input.table,
        snakemake.output.png,
        snakemake.output.svg,
        **snakemake.params.options,
    )
