"""Rule judge_agreement: one judge against the human labels."""
from think_in_safety.judges import make_judge
from think_in_safety.judges.agreement import evaluate_judge
from think_in_safety.logs import rule_log

with rule_log(snakemake.log[0]) as log:
    judge = make_judge(snakemake.wildcards.judge, dict(snakemake.params.spec))
    table = evaluate_judge(
        judge, snakemake.input.labels, snakemake.output.csv, snakemake.output.md
    )
    log.info("judge %s against %s:\n%s", judge.identity, snakemake.input.labels, table.to_string(index=False))
