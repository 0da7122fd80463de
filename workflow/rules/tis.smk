# TiS assembly (docs/study.md, "The TiS dataset"): sources -> captions -> safety thoughts -> filters ->
# LLaMA-Factory set + dataset card. One rule per stage; every output is a table to inspect.
# Settings: config "tis"; the set is the training set of format tis_assembly.


rule tis_sources:
    """Source items (image, question, reference answer, safe/unsafe, category, decision)."""
    input:
        releases=tis_releases_input,
    output:
        table="results/tis/sources.parquet",
        images=directory("resources/tis/source_images"),
    log:
        "logs/tis_sources/sources.log",
    benchmark:
        "benchmarks/tis_sources/sources.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        **DATA_JOB,
    params:
        sources=tis_source_map,
        policy=config["tis"]["policy"],
        seed=config["seed"],
    script:
        "../scripts/tis_sources.py"


rule tis_captions:
    """One caption per image (captioner: precomputed, openai or transformers)."""
    input:
        sources="results/tis/sources.parquet",
        images="resources/tis/source_images",
        releases=tis_releases_input,
        model=tis_model_input("captioner"),
    output:
        "results/tis/captions.parquet",
    log:
        "logs/tis_captions/captions.log",
    benchmark:
        "benchmarks/tis_captions/captions.tsv"
    conda:
        "../../envs/tis.yaml"
    threads: 1
    resources:
        **TIS_CAPTIONER_JOB,
    params:
        settings=tis_backend_settings("captioner"),
        releases=tis_release_map,
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
    benchmark:
        "benchmarks/tis_thoughts/thoughts.tsv"
    conda:
        "../../envs/tis.yaml"
    threads: 1
    resources:
        **TIS_WRITER_JOB,
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
    benchmark:
        "benchmarks/tis_filter/filter.tsv"
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
    benchmark:
        "benchmarks/tis_dataset/dataset.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        **DATA_JOB,
    params:
        name=assembled_set(),
        config=config["tis"],
        formats=tis_format_map,
        releases=tis_release_map,
        seed=config["seed"],
    script:
        "../scripts/tis_dataset.py"
