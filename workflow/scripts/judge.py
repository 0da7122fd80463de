"""Rule judge: the benchmark's judge on every response of one model."""

from think_in_safety.judges import make_judge
from think_in_safety.judges.runs import judge_file
from think_in_safety.logs import rule_log

with rule_log(snakemake.log[0]) as log:
    judge = make_judge(snakemake.wildcards.judge, dict(snakemake.params.spec))
    judge_file(
        judge,
        prompts=snakemake.input.prompts,
        responses=snakemake.input.responses,
        benchmark=snakemake.wildcards.benchmark,
        output=snakemake.output[0],
        log=log,
    )
