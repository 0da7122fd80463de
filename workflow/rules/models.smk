# Models: the tiny zoo of the embedded default, built offline (tokenizer, random init, general
# chat data) and tuned with LLaMA-Factory. Models with hub or local weights need no rule here.


rule write_chat_data:
    """General visual chat (no safety content) in LLaMA-Factory's sharegpt format."""
    output:
        directory("resources/tiny_zoo/chat_data/{style}"),
    log:
        "logs/write_chat_data/{style}.log",
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        n_examples=config["tiny_zoo"]["chat_examples"],
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
    """A randomly initialised tiny Qwen2.5-VL (STACK.md), deterministic per seed."""
    input:
        tokenizer="resources/tiny_zoo/tokenizer",
    output:
        directory("resources/tiny_zoo/init/seed{seed}"),
    log:
        "logs/build_tiny_init/seed{seed}.log",
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=15,
    script:
        "../scripts/build_tiny_init.py"


rule tune_tiny_model:
    """Full fine-tuning with LLaMA-Factory on CPU: a base answers, a reasoner thinks first."""
    input:
        start=tuning_start,
        chat_data=chat_data_for,
    output:
        directory("resources/models/{model}"),
    log:
        "logs/tune_tiny_model/{model}.log",
    conda:
        "../../envs/train.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        template=lambda wc: config["models"][wc.model]["chat_template"],
        style=lambda wc: config["models"][wc.model]["build"]["style"],
        hyper=tuning_hyperparameters,
    script:
        "../scripts/tune_tiny_model.py"
