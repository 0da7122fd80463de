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
        # vLLM cannot share an environment with LLaMA-Factory's transformers (STACK.md)
        lambda wc: f"../../envs/{'vllm' if model_backend(config, wc.model) == 'vllm' else 'generate'}.yaml"
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
        engine=lambda wc: {
            "tensor_parallel_size": max(1, config["models"][wc.model].get("gpus", 0)),
            "max_model_len": config["models"][wc.model].get("max_model_len"),
            "max_images_per_prompt": config["models"][wc.model].get("max_images", 1),
        },
        batch_size=config["generation"]["batch_size"],
        seed=config["seed"],
    script:
        "../scripts/generate.py"
