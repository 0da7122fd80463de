# Generation: one record per sampled response, thought and answer split by the model's format.


rule generate_shard:
    """Responses of one model to shard k of N of a benchmark that generation.shards splits: its
    own job (prompt rows k, k + N, ...); merge_response_shards joins the shards. The rules
    generate and over_refusal_responses (sft.smk) are this job on other prompts tables. Every
    table's samples stay in its checkpoint folder (<output>.partial), keyed by everything that
    makes them: a rerun reads back every unchanged sample (docs/generation.md). All GPUs of a
    job (models.<m>.gpus, vLLM's tensor parallelism) are on one node."""
    input:
        prompts="results/prompts/{benchmark}.parquet",
        release=release_input,
        model=model_input,
    output:
        "results/responses/{model}/{benchmark}/shard-{shard}.parquet",
    log:
        "logs/generate/{model}/{benchmark}/shard-{shard}.log",
    benchmark:
        "benchmarks/generate_shard/{model}/{benchmark}/shard-{shard}.tsv"
    wildcard_constraints:
        benchmark=alternatives(list(SHARDS)),
        shard=r"\d+",
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


# generate: one model's responses to every benchmark that generation.shards does not split, the
# model loaded once for all of them. A job costs a model load and the imports of its engine,
# which take longer than a tiny model's whole benchmark and, for a large model on vLLM, GPU time
# for the engine's start; the kept samples make a rerun for one changed or added benchmark
# generate only that one. Every benchmark may be split: then there is no per-model job.
if UNSHARDED:

    use rule generate_shard as generate with:
        input:
            prompts=expand("results/prompts/{benchmark}.parquet", benchmark=UNSHARDED),
            releases=[release_dir(b) for b in UNSHARDED],
            model=model_input,
        output:
            expand(
                "results/responses/{{model}}/{benchmark}.parquet", benchmark=UNSHARDED
            ),
        log:
            "logs/generate/{model}.log",
        benchmark:
            "benchmarks/generate/{model}.tsv"


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
