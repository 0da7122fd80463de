# Judgments: each benchmark's judge (config: benchmarks.<name>.judge) on every response.


rule judge:
    """One verdict per response, with the judge's identity on every row."""
    input:
        prompts="results/prompts/{benchmark}.parquet",
        responses="results/responses/{model}/{benchmark}.parquet",
    output:
        "results/judgments/{judge}/{model}/{benchmark}.parquet",
    log:
        "logs/judge/{judge}/{model}/{benchmark}.log",
    conda:
        "../../envs/data.yaml"
    params:
        spec=lambda wc: config["judges"][wc.judge],
    script:
        "../scripts/judge.py"
