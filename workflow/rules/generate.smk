# Generation: one record per sampled response, thought and answer split by the model's format.


rule generate:
    """Responses of one model to one benchmark; an interrupted run resumes where it stopped."""
    input:
        prompts="results/prompts/{benchmark}.parquet",
        release=release_input,
        model=model_input,
    output:
        "results/responses/{model}/{benchmark}.parquet",
    log:
        "logs/generate/{model}/{benchmark}.log",
    conda:
        generation_env
    threads: 2
    resources:
        mem_mb=lambda wc: generation_resources(config, wc.model)["mem_mb"],
        runtime=lambda wc: generation_resources(config, wc.model)["runtime"],
        gpu=lambda wc: generation_resources(config, wc.model)["gpu"],
    params:
        weights=lambda wc: weights_location(config, wc.model),
        thought_format=lambda wc: config["models"][wc.model]["thought_format"],
        decoding=lambda wc: model_decoding(config, wc.model),
        backend=lambda wc: model_backend(config, wc.model),
        engine=generation_engine,
        batch_size=config["generation"]["batch_size"],
        seed=config["seed"],
    script:
        "../scripts/generate.py"
