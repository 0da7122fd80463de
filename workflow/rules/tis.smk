# TiS assembly (docs/study.md, "The TiS dataset"): sources -> captions -> safety thoughts -> filters ->
# LLaMA-Factory set + dataset card. One rule per stage; every output is a table to inspect.
# Settings: config "tis"; the set is the training set of format tis_assembly.


rule tis_sources:
    """Source items (image, question, reference answer, safe/unsafe, category, decision)."""
    input:
        releases=lambda wc: [
            training_set_release(s["training_set"]) for s in config["tis"]["sources"]
        ],
    output:
        table="results/tis/sources.parquet",
        images=directory("resources/tis/source_images"),
    log:
        "logs/tis_sources/sources.log",
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        **DATA_JOB,
    params:
        sources=lambda wc: [
            {
                **source,
                "name": source["training_set"],
                "format": training_set_format(source["training_set"]),
                "release": training_set_release(source["training_set"]),
                "options": config["training_sets"][source["training_set"]]["options"],
            }
            for source in config["tis"]["sources"]
        ],
        policy=config["tis"]["policy"],
        seed=config["seed"],
    script:
        "../scripts/tis_sources.py"


rule tis_captions:
    """One caption per image (captioner: precomputed, openai or transformers)."""
    input:
        sources="results/tis/sources.parquet",
        images="resources/tis/source_images",
        releases=lambda wc: [
            training_set_release(s["training_set"]) for s in config["tis"]["sources"]
        ],
        model=tis_model_input("captioner"),
    output:
        "results/tis/captions.parquet",
    log:
        "logs/tis_captions/captions.log",
    conda:
        "../../envs/tis.yaml"
    threads: 1
    resources:
        mem_mb=tis_stage_resources(config["tis"]["captioner"])["mem_mb"],
        runtime=tis_stage_resources(config["tis"]["captioner"])["runtime"],
        gpu=tis_stage_resources(config["tis"]["captioner"])["gpu"],
    params:
        settings=tis_backend_settings("captioner"),
        releases=lambda wc: {
            s["training_set"]: training_set_release(s["training_set"])
            for s in config["tis"]["sources"]
        },
    script:
        "../scripts/tis_captions.py"


rule tis_thoughts:
    """A <think> thought per item that reasons against the policy and ends in the answer's decision."""
    input:
        sources="results/tis/sources.parquet",
        captions="results/tis/captions.parquet",
        model=tis_model_input("writer"),
    output:
        "results/tis/thoughts.parquet",
    log:
        "logs/tis_thoughts/thoughts.log",
    conda:
        "../../envs/tis.yaml"
    threads: 1
    resources:
        mem_mb=tis_stage_resources(config["tis"]["writer"])["mem_mb"],
        runtime=tis_stage_resources(config["tis"]["writer"])["runtime"],
        gpu=tis_stage_resources(config["tis"]["writer"])["gpu"],
    params:
        settings=tis_backend_settings("writer"),
        policy=config["tis"]["policy"],
        seed=config["seed"],
        checkpoint="results/tis/thoughts.checkpoint.jsonl",
    script:
        "../scripts/tis_thoughts.py"


rule tis_filter:
    """Format, decision agreement, context leaks, lengths, near-duplicates: every drop with its reason."""
    input:
        sources="results/tis/sources.parquet",
        thoughts="results/tis/thoughts.parquet",
    output:
        "results/tis/filtered.parquet",
    log:
        "logs/tis_filter/filter.log",
    conda:
        "../../envs/tis.yaml"
    threads: 1
    resources:
        **DATA_JOB,
    params:
        settings=config["tis"]["filters"],
    script:
        "../scripts/tis_filter.py"


rule tis_dataset:
    """The kept items as a LLaMA-Factory sharegpt set, and its dataset card."""
    input:
        sources="results/tis/sources.parquet",
        thoughts="results/tis/thoughts.parquet",
        filtered="results/tis/filtered.parquet",
        captions="results/tis/captions.parquet",
        images="resources/tis/source_images",
    output:
        dataset=directory(f"resources/training_sets/sft/{assembled_set()}"),
        card=report(
            "results/tis/dataset_card.json",
            category="Training sets",
            labels={"file": "TiS dataset card (JSON)"},
            caption="../report/tis_dataset_card.rst",
        ),
        card_md=report(
            "results/tis/dataset_card.md",
            category="Training sets",
            labels={"file": "TiS dataset card"},
            caption="../report/tis_dataset_card.rst",
        ),
    log:
        "logs/tis_dataset/dataset.log",
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        **DATA_JOB,
    params:
        name=assembled_set(),
        config=config["tis"],
        formats=lambda wc: {
            s["training_set"]: training_set_format(s["training_set"])
            for s in config["tis"]["sources"]
        },
        releases=lambda wc: {
            s["training_set"]: training_set_release(s["training_set"])
            for s in config["tis"]["sources"]
        },
        seed=config["seed"],
    script:
        "../scripts/tis_dataset.py"
