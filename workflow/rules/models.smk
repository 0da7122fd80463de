# Models: the tiny zoo of the embedded default, built offline (tokenizer, random init, general
# chat data) and tuned with LLaMA-Factory; hub weights downloaded once at their pinned commit
# (download_model). Models with local weights need no rule here.


rule write_chat_data:
    """General visual chat (no safety content) in LLaMA-Factory's sharegpt format, and beside it
    the generic alignment set that aligned bases are also tuned on."""
    output:
        directory("resources/tiny_zoo/chat_data/{style}"),
    log:
        "logs/write_chat_data/{style}.log",
    # on the path to the tuning jobs, which every later stage waits on
    priority: 10
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        n_examples=config["tiny_zoo"]["chat_examples"],
        n_alignment=config["tiny_zoo"]["alignment_examples"],
        seed=config["seed"],
    script:
        "../scripts/write_chat_data.py"


rule build_tiny_tokenizer:
    """A byte-level BPE trained on the chat data, with the Qwen2-VL special tokens."""
    input:
        expand(
            "resources/tiny_zoo/chat_data/{style}",
            style=["direct", "think_tags", "llava_cot_stages"],
        ),
    output:
        directory("resources/tiny_zoo/tokenizer"),
    log:
        "logs/build_tiny_tokenizer/tokenizer.log",
    # on the path to the tuning jobs, which every later stage waits on
    priority: 10
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        vocab_size=config["tiny_zoo"]["vocab_size"],
    script:
        "../scripts/build_tiny_tokenizer.py"


rule build_tiny_init:
    """A randomly initialised tiny Qwen2.5-VL (docs/stack.md), deterministic per seed."""
    input:
        tokenizer="resources/tiny_zoo/tokenizer",
    output:
        directory("resources/tiny_zoo/init/seed{seed}"),
    log:
        "logs/build_tiny_init/seed{seed}.log",
    # on the path to the tuning jobs, which every later stage waits on
    priority: 10
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=15,
    script:
        "../scripts/build_tiny_init.py"


rule tune_tiny_model:
    """Full fine-tuning with LLaMA-Factory on CPU: a base answers (and, aligned, refuses harmful
    requests), a reasoner thinks first."""
    input:
        start=tuning_start_input,
        chat_data=chat_data_input,
    output:
        directory("resources/models/{model}"),
    log:
        "logs/tune_tiny_model/{model}.log",
    # the longest jobs, on the path every later stage waits on: scheduled before ready generations
    priority: 10
    conda:
        "../../envs/train.yaml"
    threads: CPU_TUNING_THREADS
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        template=lambda wc: config["models"][wc.model]["chat_template"],
        style=lambda wc: config["models"][wc.model]["build"]["style"],
        aligned=lambda wc: config["models"][wc.model]["build"]["aligned"],
        hyper=tuning_hyperparameters,
    script:
        "../scripts/tune_tiny_model.py"


rule download_model:
    """One hub repository at a pinned commit into resources/hub/<org>/<name>/<revision>, checked
    against the hub's checksums; the manifest is written last. An interrupted download resumes
    (the copy is not a directory() output, so Snakemake keeps it). A local rule: it runs where
    Snakemake starts (e.g. a login node, which has the network) and asks for no GPU."""
    output:
        manifest="resources/hub/{org}/{name}/{revision}.manifest.json",
    log:
        "logs/download_model/{org}/{name}/{revision}.log",
    benchmark:
        "benchmarks/download_model/{org}/{name}/{revision}.tsv"
    wildcard_constraints:
        org="[A-Za-z0-9][A-Za-z0-9._-]*",
        name="[A-Za-z0-9][A-Za-z0-9._-]*",
        revision="[0-9a-f]{40}",
    retries: 2
    localrule: True
    conda:
        "../../envs/data.yaml"
    threads: 2
    resources:
        **DOWNLOAD_JOB,
    params:
        repo=lambda wc: f"{wc.org}/{wc.name}",
        local_dir=lambda wc: f"resources/hub/{wc.org}/{wc.name}/{wc.revision}",
    script:
        "../scripts/download_model.py"
