# Safety fine-tuning (docs/study.md, "Fine-tuning comparison"): the compared training sets in their upstream
# formats (demo, downloaded or local) -> LLaMA-Factory sharegpt sets -> checked by LLaMA-Factory's
# own loader -> one SFT run per (model x set) -> '<model>+<set>' evaluated on every benchmark ->
# the fine-tuning table, with over-refusal and thought retention.

from think_in_safety.resources import sft_threads


rule write_demo_training_set:
    """A small demo release written by us in the training set's upstream format."""
    output:
        directory("resources/training_sets/demo/{training_set}"),
    log:
        "logs/write_demo_training_set/{training_set}.log",
    benchmark:
        "benchmarks/write_demo_training_set/{training_set}.tsv"
    wildcard_constraints:
        training_set=alternatives(converted_sets()),
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        **SMALL_JOB,
    params:
        format=lookup(dpath="training_sets/{training_set}/format", within=config),
        options=lookup(dpath="training_sets/{training_set}/options", within=config),
        seed=config["seed"],
    script:
        "../scripts/write_demo_training_set.py"


rule download_training_set:
    """The training set's real release from its upstream URLs (retries, resumable). A local
    rule: it runs where Snakemake starts, which has the network."""
    output:
        directory("resources/training_sets/upstream/{training_set}"),
    log:
        "logs/download_training_set/{training_set}.log",
    benchmark:
        "benchmarks/download_training_set/{training_set}.tsv"
    wildcard_constraints:
        training_set=alternatives(converted_sets()),
    retries: 2
    localrule: True
    conda:
        "../../envs/data.yaml"
    threads: 4
    resources:
        **DOWNLOAD_JOB,
    params:
        format=lookup(dpath="training_sets/{training_set}/format", within=config),
        source=lookup(dpath="training_sets/{training_set}/source", within=config),
        options=lookup(dpath="training_sets/{training_set}/options", within=config),
    script:
        "../scripts/download_training_set.py"


rule convert_training_set:
    """The release as a LLaMA-Factory sharegpt set; every dropped record with its reason."""
    input:
        release=training_set_release_input,
    output:
        directory("resources/training_sets/sft/{training_set}"),
    log:
        "logs/convert_training_set/{training_set}.log",
    benchmark:
        "benchmarks/convert_training_set/{training_set}.tsv"
    wildcard_constraints:
        training_set=alternatives(converted_sets()),
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        **DATA_JOB,
    params:
        format=lookup(dpath="training_sets/{training_set}/format", within=config),
        options=lookup(dpath="training_sets/{training_set}/options", within=config),
    script:
        "../scripts/convert_training_set.py"


rule validate_training_set:
    """LLaMA-Factory's own loader, template and image handling on every record, before training."""
    input:
        dataset="resources/training_sets/sft/{training_set}",
        start=model_input,
        template=workflow_file(config["sft"]["llamafactory_template"]),
    output:
        table="results/training_sets/validation/{model}/{training_set}.csv",
        summary="results/training_sets/validation/{model}/{training_set}.json",
    log:
        "logs/validate_training_set/{model}/{training_set}.log",
    benchmark:
        "benchmarks/validate_training_set/{model}/{training_set}.tsv"
    wildcard_constraints:
        model=alternatives(config["sft"]["models"]),
        training_set=alternatives(config["sft"]["training_sets"]),
    # the gate of every sft job (which has priority): scheduled before ready generations too
    priority: 10
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        **DATA_JOB,
    params:
        weights=model_weights,
        chat_template=lookup(dpath="models/{model}/chat_template", within=config),
        hyper=config["sft"]["hyper"],
        seed=config["seed"],
        max_rejected_share=config["sft"]["max_rejected_share"],
    script:
        "../scripts/validate_training_set.py"


rule sft:
    """Supervised fine-tuning with llamafactory-cli (full, or LoRA merged by llamafactory-cli export)."""
    input:
        dataset="resources/training_sets/sft/{training_set}",
        validation="results/training_sets/validation/{model}/{training_set}.csv",
        start=model_input,
        template=workflow_file(config["sft"]["llamafactory_template"]),
        deepspeed=(
            workflow_file(config["sft"]["deepspeed"])
            if config["sft"]["deepspeed"]
            else []
        ),
    output:
        model=directory("resources/tuned_models/{model}+{training_set}"),
        summary="results/sft/{model}+{training_set}.json",
        train_config="results/sft/{model}+{training_set}.yaml",
    log:
        "logs/sft/{model}+{training_set}.log",
    benchmark:
        "benchmarks/sft/{model}+{training_set}.tsv"
    wildcard_constraints:
        model=alternatives(config["sft"]["models"]),
        training_set=alternatives(config["sft"]["training_sets"]),
    # the longest jobs, on the path every tuned model's evaluation waits on: scheduled first
    priority: 10
    conda:
        "../../envs/train.yaml"
    # CPUs for every rank, all ranks on one node (torchrun on one host: docs/sft.md)
    threads: sft_threads(config)
    resources:
        **SFT_JOB,
    params:
        weights=model_weights,
        # every start model is a local folder (built, downloaded hub copy, local path)
        offline=True,
        chat_template=lookup(dpath="models/{model}/chat_template", within=config),
        hyper=config["sft"]["hyper"],
        seed=config["seed"],
        save_steps=config["sft"]["save_steps"],
        gpus=config["sft"]["gpus"],
        # outside the output, which Snakemake deletes before the job: a rerun resumes from here
        checkpoint_dir="resources/sft_checkpoints/{model}+{training_set}",
    script:
        "../scripts/sft.py"


rule over_refusal_prompts:
    """The shipped benign questions that look risky, with their drawn images."""
    output:
        prompts="results/over_refusal/prompts.parquet",
        images=directory("resources/over_refusal/images"),
    log:
        "logs/over_refusal_prompts/prompts.log",
    benchmark:
        "benchmarks/over_refusal_prompts/prompts.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        **SMALL_JOB,
    params:
        seed=config["seed"],
    script:
        "../scripts/over_refusal_prompts.py"


# Responses of one model to the benign questions: generation (generate.smk) on another prompts table.
use rule generate_shard as over_refusal_responses with:
    input:
        prompts="results/over_refusal/prompts.parquet",
        images="resources/over_refusal/images",
        model=model_input,
    output:
        "results/over_refusal/responses/{model}.parquet",
    log:
        "logs/over_refusal_responses/{model}.log",
    benchmark:
        "benchmarks/over_refusal_responses/{model}.tsv"


rule finetuning_table:
    """Per tuned reasoning model: untuned and each set, on every benchmark, over-refusal, thoughts."""
    input:
        scores=finetuning_inputs("units"),
        responses=finetuning_inputs("responses"),
        probe=finetuning_inputs("probe"),
        strata_judgments=finetuning_inputs("strata_judgments"),
        strata_prompts=finetuning_inputs("strata_prompts"),
    output:
        csv=report(
            "results/tables/sft_comparison.csv",
            category="Tables",
            labels={"table": "fine-tuning"},
            caption="../report/finetuning.rst",
        ),
        md="results/tables/sft_comparison.md",
    log:
        "logs/finetuning_table/table.log",
    benchmark:
        "benchmarks/finetuning_table/table.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        **SMALL_JOB,
    params:
        groups=finetuning_groups(),
        labels=training_set_labels(),
        n_boot=config["metrics"]["bootstrap_resamples"],
        seed=config["seed"],
    script:
        "../scripts/finetuning_table.py"
