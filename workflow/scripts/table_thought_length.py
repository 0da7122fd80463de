"""Rule table_thought_length: judged safety binned by thought length, per reasoning model."""
from think_in_safety import study_tables
from think_in_safety.logs import rule_log

with rule_log(snakemake.log[0]) as log:
    table = study_tables.thought_length(
        study_tables.read_per_benchmark(snakemake.input.responses),
        study_tables.read_per_benchmark(snakemake.input.judgments),
        study_tables.read_per_benchmark(snakemake.input.prompts),
        n_bins=snakemake.params.n_bins,
        model_order=snakemake.params.models,
    )
    table.write(snakemake.output.csv, snakemake.output.md, snakemake.output.tex)
    log.info("%d rows", len(table.data))
