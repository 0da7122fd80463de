"""Rule table_thought_vs_answer: thought verdicts against answer verdicts (when thoughts are judged)."""
from think_in_safety import study_tables
from think_in_safety.logs import rule_log

with rule_log(snakemake.log[0]) as log:
    table = study_tables.thought_vs_answer(
        study_tables.read_per_benchmark(snakemake.input.answer_judgments),
        study_tables.read_per_benchmark(snakemake.input.thought_judgments),
        study_tables.read_per_benchmark(snakemake.input.prompts),
        model_order=snakemake.params.models,
    )
    table.write(snakemake.output.csv, snakemake.output.md, snakemake.output.tex)
    log.info("%d rows%s", len(table.data), "" if len(table.data) else ": thoughts not judged")
