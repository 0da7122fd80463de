# Judgments: each benchmark's judge (config: benchmarks.<name>.judge) on every response, and
# each judge's agreement with human labels. LLM judges keep every reply in a shared cache
# (judges.<name>.cache), so a rerun makes no calls and an interrupted run resumes.


rule judge:
    """One verdict per response, with the judge's identity and prompt version on every row."""
    input:
        prompts="results/prompts/{benchmark}.parquet",
        responses="results/responses/{model}/{benchmark}.parquet",
        weights=judge_model_input,
    output:
        "results/judgments/{judge}/{model}/{benchmark}.parquet",
    log:
        "logs/judge/{judge}/{model}/{benchmark}.log",
    conda:
        judge_env
    threads: 1
    resources:
        mem_mb=lambda wc: judge_resources(config, wc.judge)["mem_mb"],
        runtime=lambda wc: judge_resources(config, wc.judge)["runtime"],
        gpu=lambda wc: judge_resources(config, wc.judge)["gpu"],
        judge_connections=judge_connections,
    params:
        spec=lambda wc: config["judges"][wc.judge],
    script:
        "../scripts/judge.py"


rule judge_agreement:
    """A judge against human labels: accuracy, Cohen's kappa, confusion matrices."""
    input:
        labels=agreement_labels(),
        weights=judge_model_input,
    output:
        csv=report(
            "results/judge_agreement/{judge}.csv",
            category="Judges",
            labels={"judge": "{judge}"},
            caption="../report/judge_agreement.rst",
        ),
        md="results/judge_agreement/{judge}.md",
    log:
        "logs/judge_agreement/{judge}.log",
    conda:
        judge_env
    threads: 1
    resources:
        mem_mb=lambda wc: judge_resources(config, wc.judge)["mem_mb"],
        runtime=lambda wc: judge_resources(config, wc.judge)["runtime"],
        gpu=lambda wc: judge_resources(config, wc.judge)["gpu"],
        judge_connections=judge_connections,
    params:
        spec=lambda wc: config["judges"][wc.judge],
    script:
        "../scripts/judge_agreement.py"
