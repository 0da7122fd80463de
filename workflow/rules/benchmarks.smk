# Benchmarks: a release in the upstream on-disk format (demo, downloaded or local), then one
# normalized prompt table per benchmark (columns: think_in_safety.tables.PROMPT_COLUMNS).


rule write_demo_benchmark:
    """A small demo release written by us in the benchmark's exact upstream format."""
    output:
        directory("resources/benchmarks/demo/{benchmark}"),
    log:
        "logs/write_demo_benchmark/{benchmark}.log",
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        seed=config["seed"],
    script:
        "../scripts/write_demo_benchmark.py"


rule download_benchmark:
    """The benchmark's real release, from its upstream URLs (retries, resumable, checksums). A
    local rule, like every download: it runs where Snakemake starts (e.g. a login node, which has
    the network), never on a compute node that may have none."""
    output:
        directory("resources/benchmarks/upstream/{benchmark}"),
    log:
        "logs/download_benchmark/{benchmark}.log",
    retries: 2
    localrule: True
    conda:
        "../../envs/data.yaml"
    threads: 4
    resources:
        mem_mb=4000,
        runtime=360,
    params:
        source=lambda wc: benchmark_source(wc.benchmark),
        options=lambda wc: config["benchmarks"][wc.benchmark]["options"],
    script:
        "../scripts/download_benchmark.py"


rule prompts:
    """The prompts exactly as the benchmark sends them, with what its judge needs. Paths that
    release files name must stay inside the release; every image is decoded once; the table
    records its source, release folder and a digest of the files read."""
    input:
        release=release_input,
    output:
        report(
            "results/prompts/{benchmark}.parquet",
            category="Prompts",
            labels={"benchmark": "{benchmark}"},
            caption="../report/prompts.rst",
        ),
    log:
        "logs/prompts/{benchmark}.log",
    benchmark:
        "benchmarks/prompts/{benchmark}.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        # the config's source is recorded in the table with a digest of the files read, so the
        # report names the release the prompts came from, not what the config says later
        source=lambda wc: benchmark_source(wc.benchmark),
        options=lambda wc: config["benchmarks"][wc.benchmark]["options"],
    script:
        "../scripts/prompts.py"
