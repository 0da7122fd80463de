# Helpers shared by every stage: config validation, registry lookups, target lists.
#
# Naming: a function Snakemake calls with the wildcards is named for what it returns; an input
# function ends in `_input` (`model_input`, `release_input`, `response_shards_input`), params,
# resources and conda functions are nouns (`generation_engine`, `judge_env`, `sft_runtime`).
# Functions called while the Snakefile is parsed return file lists or settings (`all_metrics()`,
# `tis_backend_settings(stage)`). A value straight from the config is
# `lookup(dpath="models/{model}/chat_template", within=config)`, not a lambda. Every function
# lives here, in the section of the stages that use it (snakemake --lint: no functions beside rules).
import re
from pathlib import Path

from snakemake.logging import logger

from think_in_safety.config import (
    api_model_settings,
    check_api_keys,
    hub_location,
    hub_manifest,
    model_backend,
    model_decoding,
    model_prompting,
    reasoning_pairs,
    validate_config,
    vllm_model_options,
    weights_location,
)
from think_in_safety.resources import (
    CPU_TUNING_THREADS,
    DATA_JOB,
    DOWNLOAD_JOB,
    SMALL_JOB,
    generation_overrun,
    generation_resources,
    generation_threads,
    judge_resources,
    sft_resources,
    tis_stage_resources,
)
from think_in_safety.planning import job_samples, register_tuned_models, shard_counts
from think_in_safety.benchmarks import REGISTRY as BENCHMARK_SPECS

# the schema, then every cross-reference (models, benchmarks, judges, training sets, TiS sources,
# sft, generation shards, judge_agreement): one ConfigError naming the key and the fix
validate_config(config, workflow.source_path("../schemas/config.schema.yaml"))


# Missing API keys stop a real run before its first job (a dry run is not affected), not when the
# first judge job starts after hours of generation.
onstart:
    check_api_keys(config)
    # what the results are made with (think_in_safety/workflow_files.py, Snakefile)
    record_workflow_files(workflow.basedir)


# Fine-tuned models join the registry as '<model>+<training set>' (sft.smk), so MODELS, the
# models every benchmark is evaluated on, is the registry plus the tuned models.
TUNED = register_tuned_models(config)

BENCHMARKS = list(config["benchmarks"])
MODELS = list(config["models"])
JUDGE_OF = {name: bench["judge"] for name, bench in config["benchmarks"].items()}
# {benchmark: N}: the benchmarks generation.shards splits into N generation jobs per model
SHARDS = shard_counts(config)
# the others: one generate job per model answers all of them
UNSHARDED = [b for b in BENCHMARKS if b not in SHARDS]


wildcard_constraints:
    benchmark="|".join(BENCHMARKS),
    model="[A-Za-z0-9][A-Za-z0-9._+-]*",
    judge="[A-Za-z0-9][A-Za-z0-9._-]*",
    style="direct|think_tags|llava_cot_stages",
    seed=r"\d+",


def all_targets():
    """Every final file the config asks for."""
    return [
        "results/tables/collapse.csv",
        "results/tables/collapse.md",
        "results/tables/benchmark_metrics.csv",
        "results/tables/benchmark_metrics.md",
        "reports/report.html",
        *all_agreements(),
        *finetuning_targets(),
    ]


# --- benchmarks ---------------------------------------------------------------------------


def benchmark_source(benchmark):
    return config["benchmarks"][benchmark]["source"]


def is_url(source):
    return source.startswith(("http://", "https://"))


def release_dir(benchmark):
    """The benchmark's release in its upstream layout: demo, downloaded, or a local directory."""
    source = benchmark_source(benchmark)
    if source == "demo":
        return f"resources/benchmarks/demo/{benchmark}"
    if is_url(source):
        return f"resources/benchmarks/upstream/{benchmark}"
    return source


def release_input(wildcards):
    return release_dir(wildcards.benchmark)


# --- models -------------------------------------------------------------------------------


def built_models():
    return [m for m in MODELS if config["models"][m]["weights"] == "built"]


def tuning_start_input(wildcards):
    """The directory a built model is tuned from: a random init or another built model."""
    build = config["models"][wildcards.model]["build"]
    if build["start"] == "init":
        return f"resources/tiny_zoo/init/seed{build['init_seed']}"
    return f"resources/models/{build['start']}"


def chat_data_input(wildcards):
    return f"resources/tiny_zoo/chat_data/{config['models'][wildcards.model]['build']['style']}"


def tuning_hyperparameters(wildcards):
    """tiny_zoo.tuning, overridden by the model's own build.tuning, and the study's seed."""
    build = config["models"][wildcards.model]["build"]
    return {**config["tiny_zoo"]["tuning"], **build["tuning"], "seed": config["seed"]}


def model_input(wildcards):
    """What a job that loads the model waits for: a built or fine-tuned model's directory, the
    download manifest of hub weights (download_model); local paths are not tracked."""
    if (
        wildcards.model in TUNED
        or config["models"][wildcards.model]["weights"] == "built"
    ):
        return weights_location(config, wildcards.model)
    return hub_manifest(config, f"models.{wildcards.model}") or []


def model_weights(wildcards):
    """Where a job loads the model from (weights_location): a folder, or an API model's name."""
    return weights_location(config, wildcards.model)


def judge_model_input(wildcards):
    """A local transformers judge with hub weights waits for their download manifest."""
    return hub_manifest(config, f"judges.{wildcards.judge}") or []


def tis_model_input(stage):
    """The TiS captioner's or writer's download manifest (a transformers backend with hub weights)."""
    return hub_manifest(config, f"tis.{stage}") or []


def tis_backend_settings(stage):
    """tis.captioner|writer, with hub weights replaced by their local copy (resources/hub)."""
    settings = dict(config["tis"][stage])
    location = hub_location(config, f"tis.{stage}")
    return {**settings, "model": location} if location else settings


# --- training sets, TiS assembly, fine-tuning (tis.smk, sft.smk) --------------------------


def training_set_format(name):
    return config["training_sets"][name]["format"]


def training_set_release(name):
    """A training set's release in its upstream layout: demo, downloaded, or a local directory."""
    source = config["training_sets"][name]["source"]
    if source == "demo":
        return f"resources/training_sets/demo/{name}"
    if is_url(source):
        return f"resources/training_sets/upstream/{name}"
    return source


def converted_sets():
    """Sets a converter writes (every format but the TiS assembly's)."""
    return [
        n for n in config["training_sets"] if training_set_format(n) != "tis_assembly"
    ]


def assembled_set():
    """The set the TiS assembly builds ('tis_assembled' when none is configured)."""
    names = [
        n for n in config["training_sets"] if training_set_format(n) == "tis_assembly"
    ]
    return names[0] if names else "tis_assembled"


def alternatives(names):
    """A wildcard pattern matching exactly ``names`` (none: a pattern that matches nothing)."""
    return "|".join(re.escape(name) for name in names) or "(?!)"


def workflow_file(path):
    """A config path as given, else next to the Snakefile (tests run with --directory)."""
    path = Path(path)
    return str(
        path if path.is_absolute() or path.exists() else Path(workflow.basedir) / path
    )


def training_set_release_input(wildcards):
    return training_set_release(wildcards.training_set)


# A fine-tuning job is sized from the model it tunes (think_in_safety.resources.sft_resources).
def sft_mem_mb(wildcards):
    return sft_resources(config, wildcards.model)["mem_mb"]


def sft_runtime(wildcards):
    return sft_resources(config, wildcards.model)["runtime"]


def sft_gpu(wildcards):
    return sft_resources(config, wildcards.model)["gpu"]


SFT_JOB = {"mem_mb": sft_mem_mb, "runtime": sft_runtime, "gpu": sft_gpu, "nodes": 1}


def finetuning_groups():
    """{reasoning model: [(training set, its tuned model)]} of the fine-tuning comparison."""
    return {
        model: [
            (training_set, f"{model}+{training_set}")
            for training_set in config["sft"]["training_sets"]
        ]
        for model in config["sft"]["models"]
    }


def training_set_labels():
    """How the comparison names each training set: its label, else its name."""
    return {
        name: entry["label"] or name for name, entry in config["training_sets"].items()
    }


def tis_source_map(wildcards=None):
    """The TiS sources (config tis.sources), each with its training set's name, format, release
    and options: the one source map every TiS rule reads (params sources of tis_sources).
    """
    sources = []
    for source in config["tis"]["sources"]:
        name = source["training_set"]  # a key of training_sets (validate_config)
        sources.append(
            {
                **source,
                "name": name,
                "format": training_set_format(name),
                "release": training_set_release(name),
                "options": config["training_sets"][name]["options"],
            }
        )
    return sources


# The TiS captioner's and thought writer's jobs, sized from their backends (resources.py).
TIS_CAPTIONER_JOB = tis_stage_resources(config["tis"]["captioner"])
TIS_WRITER_JOB = tis_stage_resources(config["tis"]["writer"])


def tis_releases_input(wildcards):
    return [source["release"] for source in tis_source_map()]


def tis_release_map(wildcards):
    return {source["name"]: source["release"] for source in tis_source_map()}


def tis_format_map(wildcards):
    return {source["name"]: source["format"] for source in tis_source_map()}


def finetuning_inputs(kind):
    """What the fine-tuning table reads, for the tuned reasoning models and their tuned versions."""
    models = list(config["sft"]["models"]) + list(TUNED)
    if kind == "units":
        return [
            f"results/metrics/{JUDGE_OF[b]}/{m}/{b}.units.parquet"
            for m in models
            for b in BENCHMARKS
        ]
    if kind == "responses":
        return [
            f"results/responses/{m}/{b}.parquet" for m in models for b in BENCHMARKS
        ]
    if kind == "probe":
        return [f"results/over_refusal/responses/{m}.parquet" for m in models]
    # benchmarks with strata where an unsafe verdict is a needless refusal (over-refusal)
    stratified = [b for b in BENCHMARKS if BENCHMARK_SPECS[b].over_refusal_strata]
    if kind == "strata_judgments":
        return [judgments_of(m, b) for m in models for b in stratified]
    return [f"results/prompts/{b}.parquet" for b in stratified]


def finetuning_targets():
    """Every training set (converted or assembled), the TiS dataset card when TiS is assembled,
    and the fine-tuning table when sft tunes anything."""
    targets = [
        f"resources/training_sets/sft/{name}" for name in config["training_sets"]
    ]
    if any(training_set_format(n) == "tis_assembly" for n in config["training_sets"]):
        targets += ["results/tis/dataset_card.json", "results/tis/dataset_card.md"]
    if TUNED:
        targets += [
            "results/tables/sft_comparison.csv",
            "results/tables/sft_comparison.md",
        ]
    return targets


# --- judgments and metrics ----------------------------------------------------------------


def judgments_of(model, benchmark):
    return f"results/judgments/{JUDGE_OF[benchmark]}/{model}/{benchmark}.parquet"


def all_judgments():
    return [judgments_of(m, b) for m in MODELS for b in BENCHMARKS]


def all_metrics():
    return [
        f"results/metrics/{JUDGE_OF[b]}/{m}/{b}.parquet"
        for m in MODELS
        for b in BENCHMARKS
    ]


def generation_env(wildcards):
    """vLLM cannot share an environment with LLaMA-Factory's transformers (docs/stack.md); a
    model behind an API needs no torch (envs/data.yaml)."""
    backend = model_backend(config, wildcards.model)
    env = {"vllm": "vllm", "openai": "data"}.get(backend, "generate")
    return f"../../envs/{env}.yaml"


def generation_engine(wildcards):
    """vLLM engine settings from the registry (the transformers backend ignores them): tensor
    parallelism over the model's gpus, requests per engine call (generation.chunk_size); an
    API model's server settings (backend openai)."""
    if model_backend(config, wildcards.model) == "openai":
        return api_model_settings(config, wildcards.model)
    entry = config["models"][wildcards.model]
    return {
        "tensor_parallel_size": max(1, entry.get("gpus", 0)),
        "max_model_len": entry.get("max_model_len"),
        "max_images_per_prompt": entry.get("max_images", 1),
        "chunk_size": config["generation"]["chunk_size"],
        # trust_remote_code and the model's engine section (further vllm.LLM keywords)
        **vllm_model_options(config, wildcards.model),
    }


def generation_cpus(wildcards):
    """Threads of one generation job (resources.generation_threads: 1 for a tiny CPU model)."""
    return generation_threads(config, wildcards.model)


def generation_runtime(wildcards, input):
    """Minutes for one generation job, from the samples it draws over all its prompts tables
    (resources.py). They are read from the tables, so in a dry run before they exist the runtime
    shows as <TBD>.
    """
    tables = [input.prompts] if isinstance(input.prompts, str) else list(input.prompts)
    shard = int(wildcards.get("shard", 0))
    samples = sum(
        job_samples(path, shard, generation_shards(wildcards)) for path in tables
    )
    job = "/".join(
        [wildcards.model, *(str(v) for k, v in wildcards.items() if k != "model")]
    )
    overrun = generation_overrun(config, wildcards.model, samples, f"generation {job}")
    if overrun and overrun not in OVERRUNS_SAID:
        OVERRUNS_SAID.add(overrun)
        logger.warning(overrun)
    return generation_resources(config, wildcards.model, samples)["runtime"]


# Each warning of generation_runtime once per run (Snakemake asks for a runtime more than once).
OVERRUNS_SAID = set()


def generation_shards(wildcards):
    """Generation jobs the benchmark is split into (generation.shards; 1: not split, and for the
    over-refusal probe, which has no benchmark wildcard)."""
    return SHARDS.get(wildcards.get("benchmark"), 1)


def response_shards_input(wildcards):
    """Every shard table of one model and benchmark split by generation.shards, in order."""
    return [
        f"results/responses/{wildcards.model}/{wildcards.benchmark}/shard-{k}.parquet"
        for k in range(SHARDS[wildcards.benchmark])
    ]


def judge_env(wildcards):
    """The conda env of a judge: the transformers stack for a local judge model."""
    backend = config["judges"][wildcards.judge]["backend"]
    return f"../../envs/{'generate' if backend == 'transformers' else 'data'}.yaml"


def judge_connections(wildcards):
    """Requests an endpoint judge keeps in flight: cap them all with --resources judge_connections=N."""
    spec = config["judges"][wildcards.judge]
    return (
        spec.get("max_concurrency", 8) if spec["backend"] == "openai_compatible" else 0
    )


# A judge job is sized from its judge (think_in_safety.resources.judge_resources).
def judge_mem_mb(wildcards):
    return judge_resources(config, wildcards.judge)["mem_mb"]


def judge_runtime(wildcards):
    return judge_resources(config, wildcards.judge)["runtime"]


def judge_gpu(wildcards):
    return judge_resources(config, wildcards.judge)["gpu"]


JUDGE_JOB = {
    "mem_mb": judge_mem_mb,
    "runtime": judge_runtime,
    "gpu": judge_gpu,
    "judge_connections": judge_connections,
}


def agreement_labels():
    """The human labels of judge_agreement: as given, or else next to the workflow (shipped set)."""
    path = Path(config["judge_agreement"]["labels"])
    return str(
        path if path.is_absolute() or path.exists() else Path(workflow.basedir) / path
    )


def all_agreements():
    """Each judge's agreement with the human labels (judge_agreement.judges, default: judges in use)."""
    judges = config["judge_agreement"]["judges"]
    judges = sorted(set(JUDGE_OF.values())) if judges is None else judges
    return [
        f"results/judge_agreement/{judge}.{ext}"
        for judge in judges
        for ext in ("csv", "md")
    ]


def all_unit_scores():
    """Per-prompt safety scores: the paired bootstrap of the collapse table resamples them."""
    return [path.replace(".parquet", ".units.parquet") for path in all_metrics()]


# --- figures and the report (figures.smk, report.smk) -------------------------------------
# Which tables and figures there are, what each reads and where the reports show it.
from think_in_safety import catalog

# equal-count bins of thought tokens per model and benchmark family
THOUGHT_LENGTH_BINS = 4
#: every table and figure of this run, per-benchmark ones as "<name>/<benchmark>"
STUDY_TABLES = catalog.table_names(BENCHMARKS)
STUDY_FIGURES = catalog.figure_names(BENCHMARKS)


def thought_judges():
    """Judges that judge the thought instead of the answer (judges.<name>.judge_target)."""
    return [
        name
        for name, judge in config["judges"].items()
        if judge.get("judge_target") == "thought"
    ]


def thinking_models():
    """Models whose responses have a thought to split off (thought_format other than none)."""
    return [m for m in MODELS if config["models"][m]["thought_format"] != "none"]


def thought_judgments():
    """Every thinking model's thoughts judged by every thought judge (none without one)."""
    return [
        f"results/judgments/{judge}/{model}/{benchmark}.parquet"
        for judge in thought_judges()
        for model in thinking_models()
        for benchmark in BENCHMARKS
    ]


def answer_judgments_of_thinkers():
    return [judgments_of(m, b) for m in thinking_models() for b in BENCHMARKS]


def finetuning_comparison():
    """The fine-tuning comparison when this configuration fine-tunes anything (sft.smk)."""
    table = "results/tables/sft_comparison.csv"
    return [table] if table in finetuning_targets() else []


def tis_dataset_card():
    """The TiS dataset card when this configuration assembles TiS (tis.smk)."""
    card = "results/tis/dataset_card.json"
    return [card] if card in finetuning_targets() else []


def study_table_inputs():
    """What each study table is built from, by builder argument (catalog.Table.reads); the
    tables of one benchmark under their name and benchmark, so the path '<name>/<benchmark>'
    (the table wildcard) finds them."""
    prompts = expand("results/prompts/{benchmark}.parquet", benchmark=BENCHMARKS)
    inputs = {
        "safety_variation": {"comparison": ["results/tables/collapse.csv"]},
        "headline": {"metrics": ["results/tables/benchmark_metrics.csv"]},
        "categories": {
            b: {
                "metrics": [
                    f"results/metrics/{JUDGE_OF[b]}/{m}/{b}.parquet" for m in MODELS
                ]
            }
            for b in BENCHMARKS
        },
        "thought_length": {
            "prompts": prompts,
            "responses": expand(
                "results/responses/{model}/{benchmark}.parquet",
                model=thinking_models(),
                benchmark=BENCHMARKS,
            ),
            "judgments": answer_judgments_of_thinkers(),
        },
        "thought_vs_answer": {
            "prompts": prompts,
            "answer_judgments": (
                answer_judgments_of_thinkers() if thought_judges() else []
            ),
            "thought_judgments": thought_judgments(),
        },
        "finetuning": {"comparison": finetuning_comparison()},
        "tis_composition": {"card": tis_dataset_card()},
    }
    for name in STUDY_TABLES:
        table, benchmark = catalog.table_of(name), catalog.benchmark_of(name)
        named = inputs.get(table.name, {})
        named = named.get(benchmark, {}) if benchmark else named
        if set(named) != set(table.reads):
            raise ValueError(
                f"workflow/rules/common.smk, study_table_inputs: table {name!r} has inputs "
                f"{sorted(named)}, but its builder reads {sorted(table.reads)} "
                "(think_in_safety/catalog.py); give it one input per argument it reads"
            )
    return inputs


STUDY_TABLE_INPUTS = study_table_inputs()


def table_options(wildcards):
    """The table builder's keyword arguments besides its inputs (catalog.Table.options)."""
    values = {
        "model_order": MODELS,
        "n_bins": THOUGHT_LENGTH_BINS,
        "benchmark": catalog.benchmark_of(wildcards.table),
    }
    return {name: values[name] for name in catalog.table_of(wildcards.table).options}


def figure_options(wildcards):
    """The drawing function's keyword arguments besides its table (catalog.Figure.options)."""
    values = {"pairs": reasoning_pairs(config)}
    return {name: values[name] for name in catalog.figure_of(wildcards.figure).options}


def figure_table_input(wildcards):
    return f"results/tables/{catalog.figure_table(wildcards.figure)}.csv"


def caption_file(name):
    return Path(workflow.basedir) / "workflow" / "report" / f"{name}.rst"


def table_caption(wildcards):
    return caption_file(catalog.table_of(wildcards.table).caption).read_text()


def figure_caption(wildcards):
    return caption_file(catalog.figure_of(wildcards.figure).caption).read_text()


def table_subcategory(wildcards):
    return catalog.group(catalog.table_of(wildcards.table).group).subcategory


def figure_subcategory(wildcards):
    return catalog.group(catalog.figure_of(wildcards.figure).group).subcategory


def table_labels(wildcards):
    return catalog.report_labels("table", wildcards.table)


def figure_labels(wildcards):
    return catalog.report_labels("figure", wildcards.figure)


def study_table_csvs():
    """The CSV of every study table (the report reads them), per-benchmark ones included."""
    return {name: f"results/tables/{name}.csv" for name in STUDY_TABLES}


def study_figure_pngs():
    """The PNG of every figure (the report embeds them), per-benchmark heatmaps included."""
    return {name: f"results/figures/{name}.png" for name in STUDY_FIGURES}


def report_captions():
    """Caption text of each figure, shared by the HTML report and `snakemake --report`."""
    return {
        name: caption_file(figure.caption).read_text()
        for name, figure in catalog.FIGURES.items()
    }
