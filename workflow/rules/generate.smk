# Generation: one record per sampled response, thought and answer split by the model's format.


rule generate:
    """Responses of one model to one benchmark; an interrupted run resumes where it stopped.
    All GPUs of a job (models.<m>.gpus, vLLM's tensor parallelism) are on one node."""
    input:
        prompts="results/prompts/{benchmark}.parquet",
        release=release_input,
        model=model_input,
    output:
        "results/responses/{model}/{benchmark}.parquet",
    log:
        "logs/generate/{model}/{benchmark}.log",
    benchmark:
        "benchmarks/generate/{model}/{benchmark}.tsv"
    wildcard_constraints:
        benchmark=alternatives([b for b in BENCHMARKS if b not in SHARDS]),
    conda:
        generation_env
    threads: generation_cpus
    resources:
        mem_mb=lambda wc: generation_resources(config, wc.model)["mem_mb"],
        runtime=generation_runtime,
        gpu=lambda wc: generation_resources(config, wc.model)["gpu"],
        nodes=1,
    params:
        weights=lambda wc: weights_location(config, wc.model),
        thought_format=lambda wc: config["models"][wc.model]["thought_format"],
        prompting=lambda wc: model_prompting(config, wc.model),
        trust_remote_code=lambda wc: config["models"][wc.model]["trust_remote_code"],
        decoding=lambda wc: model_decoding(config, wc.model),
        backend=lambda wc: model_backend(config, wc.model),
        engine=generation_engine,
        batch_size=config["generation"]["batch_size"],
        seed=config["seed"],
        shards=generation_shards,
    script:
        "../scripts/generate.py"


# A benchmark of generation.shards: shard k of N is its own job (prompt rows k, k + N, ...).
use rule generate as generate_shard with:
    output:
        "results/responses/{model}/{benchmark}/shard-{shard}.parquet",
    log:
        "logs/generate/{model}/{benchmark}/shard-{shard}.log",
    benchmark:
        "benchmarks/generate_shard/{model}/{benchmark}/shard-{shard}.tsv"
    wildcard_constraints:
        benchmark=alternatives(list(SHARDS)),
        shard=r"\d+",


rule merge_response_shards:
    """The shard tables of a benchmark that generation.shards splits, as the one responses table
    an unsharded run writes (same rows, order and columns).

    Why shards this way: the jobs of a run must be known when Snakemake plans it, before the
    prompts table exists, so the config gives the number of shards and shard k takes prompt rows
    k, k + N, k + 2N, ... (each shard gets every category), read from the table when it runs.
    No checkpoint rule re-plans the DAG, and the plan never depends on files on disk; the job's
    runtime, which may, is computed once the table exists. Benchmarks not named in
    generation.shards keep their single generate job."""
    input:
        prompts="results/prompts/{benchmark}.parquet",
        shards=response_shards_input,
    output:
        "results/responses/{model}/{benchmark}.parquet",
    log:
        "logs/merge_response_shards/{model}/{benchmark}.log",
    wildcard_constraints:
        benchmark=alternatives(list(SHARDS)),
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        **SMALL_JOB,
    script:
        "../scripts/merge_response_shards.py"
