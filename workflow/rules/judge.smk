# Judgments: each benchmark's judge (config: benchmarks.<name>.judge) on every response, and
# each judge's agreement with human labels. LLM judges keep every reply in a shared cache
# (judges.<name>.cache), so a rerun makes no calls and an interrupted run resumes.
from think_in_safety.judges.runs import retry_note, warn_pending


# Judgment tables with failed rows are named again at the end of every run (judges/runs.py).
onsuccess:
    warn_pending(all_judgments() + thought_judgments())


onerror:
    warn_pending(all_judgments() + thought_judgments())


rule judge:
    """One verdict per response, with the judge's identity and prompt version on every row.
    Rows whose calls failed are written as errors, and the job is rerun by the next run until
    none fails (only the failed calls are made again: replies are cached)."""
    input:
        prompts="results/prompts/{benchmark}.parquet",
        responses="results/responses/{model}/{benchmark}.parquet",
        weights=judge_model_input,
    output:
        "results/judgments/{judge}/{model}/{benchmark}.parquet",
    log:
        "logs/judge/{judge}/{model}/{benchmark}.log",
    benchmark:
        "benchmarks/judge/{judge}/{model}/{benchmark}.tsv"
    conda:
        judge_env
    threads: 1
    resources:
        **JUDGE_JOB,
    params:
        spec=lambda wc: config["judges"][wc.judge],
        # rows that failed last time: a new retry note reruns the job (judges/runs.py)
        retry=lambda wc: retry_note(
            f"results/judgments/{wc.judge}/{wc.model}/{wc.benchmark}.parquet"
        ),
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
    benchmark:
        "benchmarks/judge_agreement/{judge}.tsv"
    conda:
        judge_env
    threads: 1
    resources:
        **JUDGE_JOB,
    params:
        spec=lambda wc: config["judges"][wc.judge],
    script:
        "../scripts/judge_agreement.py"
