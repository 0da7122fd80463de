"""Configuration: JSON-schema validation with defaults, and lookups into the registries.

Snakemake's own ``validate`` fills defaults only under ``properties``; the registries here are
maps (``models``, ``benchmarks``, ``judges``) whose entries also carry defaults, so this module
fills them too, and turns schema errors into one message that names the key and the fix.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import yaml


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the key and what is expected."""


def read_config_file(path: str | Path) -> dict:
    """A config file's contents; :class:`ConfigError` naming the file, the line and the column
    when it is not valid YAML (Snakemake's own message names neither), or when its top level is
    not a mapping of keys."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"config file {path} cannot be read ({error.strerror or error})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(_yaml_problem(path, text, error)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} holds a {type(data).__name__}, not keys at its top level "
                          "(e.g. 'seed: 0'); see config/README.md")
    return data


def _yaml_problem(path: Path, text: str, error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    if mark is None:
        return f"config file {path} is not valid YAML: {error}"
    lines = text.splitlines()
    shown = lines[mark.line] if mark.line < len(lines) else ""
    problem = ": ".join(part for part in (getattr(error, "context", None), getattr(error, "problem", None)) if part)
    context = getattr(error, "context_mark", None)
    since = f" (the construct began at line {context.line + 1}, column {context.column + 1})" if (
        context is not None and context.line != mark.line) else ""
    return (f"config file {path}, line {mark.line + 1}, column {mark.column + 1}: not valid YAML: "
            f"{problem or error}{since}.\n    {shown}\n    {' ' * mark.column}^\nCheck the indentation there "
            "(spaces only, no tabs), closing brackets and quotes; quote a value that holds ': ' or ' #'.")


def check_config_files(paths) -> None:
    """Parse each config file that exists (:func:`read_config_file`), for its file-and-line
    message; a missing one is left to Snakemake, which names it."""
    for path in paths:
        if Path(path).is_file():
            read_config_file(path)


def _fill_defaults(instance: Any, schema: dict, root: dict) -> None:
    """Insert schema defaults into ``instance`` in place (properties and map entries)."""
    if "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        schema = root["$defs"][name]
    if not isinstance(instance, dict):
        return
    for key, sub in schema.get("properties", {}).items():
        if "$ref" in sub:
            sub = root["$defs"][sub["$ref"].split("/")[-1]]
        if key not in instance and "default" in sub:
            instance[key] = _copy(sub["default"])
        if key in instance:
            _fill_defaults(instance[key], sub, root)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for key, value in instance.items():
            if key not in schema.get("properties", {}):
                _fill_defaults(value, extra, root)


def _copy(value: Any) -> Any:
    return copy.deepcopy(value)  # a default is plain YAML data (mappings, lists, scalars)


#: libyaml's loader when PyYAML has it (the schema is read on every Snakemake invocation)
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_schema(schema_path: str | Path) -> dict:
    """The config schema with its benchmark entries filled in from the benchmark registry.

    The YAML holds what every benchmark entry shares (``$defs/benchmark``), each benchmark's own
    loader options (``$defs/options_<name>``, or ``$defs/options_common`` for a benchmark that
    reads only the shared ones) and no benchmark list: ``benchmarks``' names and entries and the
    judges' ``protocols`` keys are written here from :data:`think_in_safety.benchmarks.REGISTRY`,
    so a new benchmark needs no edit of the schema unless its loader reads options of its own."""
    from think_in_safety.benchmarks import REGISTRY

    schema = yaml.load(Path(schema_path).read_text(), Loader=_SAFE_LOADER)
    defs = schema["$defs"]
    stray = sorted(name for name in (key.removeprefix("options_") for key in defs if key.startswith("options_"))
                   if name != "common" and name not in REGISTRY)
    if stray:
        raise ValueError(f"{schema_path}: $defs options_{stray[0]} is of no registered benchmark "
                         f"(think_in_safety.benchmarks.REGISTRY: {list(REGISTRY)})")
    shared = defs["benchmark"]["properties"]
    benchmarks = schema["properties"]["benchmarks"]
    benchmarks["propertyNames"] = {"enum": list(REGISTRY)}
    benchmarks["properties"] = {}
    for name in REGISTRY:
        options = f"options_{name}" if f"options_{name}" in defs else "options_common"
        defs[f"benchmark_{name}"] = {
            "type": "object", "additionalProperties": False,
            "description": f"The {REGISTRY[name].title} entry: source, judge and the options its loader reads.",
            "properties": {**shared, "options": {"$ref": f"#/$defs/{options}"}},
        }
        benchmarks["properties"][name] = {"$ref": f"#/$defs/benchmark_{name}"}
    protocols = schema["properties"]["judges"]["additionalProperties"]["properties"]["protocols"]
    protocols["propertyNames"] = {"enum": list(REGISTRY)}
    return schema


def validate_config(config: dict, schema_path: str | Path) -> dict:
    """Validate ``config`` against the schema, fill defaults in place, check cross-references."""
    schema = load_schema(schema_path)
    _fill_defaults(config, schema, schema)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.path))
    if errors:
        lines = [f"  - {'.'.join(map(str, e.path)) or '<top>'}: {e.message}" for e in errors]
        raise ConfigError(
            "The configuration does not match workflow/schemas/config.schema.yaml:\n"
            + "\n".join(lines)
            + "\nSee config/README.md for what each key means."
        )
    _check_api_models(config)
    _check_model_options(config)
    _check_benchmark_sources(config)
    _check_references(config)
    _check_revisions(config)
    check_training_references(config)
    check_generation_shards(config)
    _check_agreement_judges(config)
    return config


#: Keys of a model served behind an OpenAI-compatible API (backend openai) and their defaults.
API_MODEL_DEFAULTS = {"api_key_env": "OPENAI_API_KEY", "max_concurrency": 8, "timeout_s": 600.0}
API_MODEL_KEYS = ("base_url", "model", *API_MODEL_DEFAULTS)
#: The ``weights`` of a model served behind an API: nothing to download or load.
API_WEIGHTS = "api"


def _check_api_models(config: dict) -> None:
    """Models of backend openai have weights 'api' (filled in when omitted); only they have it,
    and only they carry the API keys (base_url, model, api_key_env, ...); none is fine-tuned."""
    for name, model in config["models"].items():
        backend = model.get("backend") or config["generation"]["backend"]
        if backend == "openai":
            weights = model.setdefault("weights", API_WEIGHTS)
            if weights != API_WEIGHTS:
                raise ConfigError(
                    f"models.{name} has backend openai (served behind an API) but weights '{weights}'; "
                    f"set weights: {API_WEIGHTS} or leave it out: an API model has no weights to download")
            continue
        if model.get("weights") == API_WEIGHTS:
            raise ConfigError(
                f"models.{name} has weights '{API_WEIGHTS}' (served behind an API) but backend '{backend}'; "
                "set backend: openai with base_url and model, or give the weights")
        stray = [key for key in API_MODEL_KEYS if key in model]
        if stray:
            raise ConfigError(
                f"models.{name} sets {', '.join(stray)}, which only backend openai uses, but its backend is "
                f"'{backend}'; remove them or set backend: openai")
    served = [m for m in config.get("sft", {}).get("models", []) if config["models"].get(m, {}).get("weights")
              == API_WEIGHTS]
    if served:
        raise ConfigError(f"sft.models names {', '.join(served)}, served behind an API (backend openai); only "
                          "models with local weights can be fine-tuned: remove them from sft.models")


def api_model_settings(config: dict, model: str) -> dict:
    """The :class:`~think_in_safety.models.openai_backend.OpenAIBackend` keywords of an API
    model: its registry keys with :data:`API_MODEL_DEFAULTS`, thought format and name."""
    entry = config["models"][model]
    settings = {key: entry.get(key, default) for key, default in API_MODEL_DEFAULTS.items()}
    return {"base_url": entry["base_url"], "model": entry["model"], **settings,
            "thought_format": entry.get("thought_format", "none"), "model_name": model}


#: vllm.LLM keywords a model's engine section may not set: the registry sets them itself.
ENGINE_RESERVED = {"model": "weights", "tokenizer": "weights", "trust_remote_code": "trust_remote_code",
                   "revision": "revision", "seed": "the top-level seed"}


def _check_model_options(config: dict) -> None:
    """Each model's thought format, prompting, trust_remote_code and vLLM engine options make
    sense together (the schema checks their types)."""
    from think_in_safety.models.thought import thought_format_of

    for name, model in config["models"].items():
        try:
            thought_format_of(model.get("thought_format", "none"))
        except ValueError as error:
            raise ConfigError(f"models.{name}.thought_format: {error}") from None
        try:
            check_prompt_template(model.get("prompt_template"))
        except ValueError as error:
            raise ConfigError(f"models.{name}.prompt_template: {error}") from None
        backend = model.get("backend") or config["generation"]["backend"]
        if backend == "openai" and model.get("trust_remote_code"):
            raise ConfigError(f"models.{name} is served behind an API (backend openai), which runs no local model "
                              "code; remove trust_remote_code (set it on the server: vllm serve --trust-remote-code)")
        _check_engine(name, model)


def _check_engine(name: str, model: dict) -> None:
    """models.<m>.engine against the keys the registry owns (gpus, max_model_len, max_images)."""
    engine = model.get("engine") or {}
    for key, owner in ENGINE_RESERVED.items():
        if key in engine:
            raise ConfigError(f"models.{name}.engine.{key} is set by the registry ({owner}); remove it from engine")
    gpus = max(1, int(model.get("gpus", 0)))
    if "tensor_parallel_size" in engine and engine["tensor_parallel_size"] != gpus:
        raise ConfigError(
            f"models.{name}.engine.tensor_parallel_size is {engine['tensor_parallel_size']} but the job gets "
            f"gpus: {model.get('gpus', 0)}; vLLM's tensor parallelism is the model's GPU count: set "
            f"gpus: {engine['tensor_parallel_size']} and drop engine.tensor_parallel_size")
    length = model.get("max_model_len")
    if "max_model_len" in engine and length is not None and engine["max_model_len"] != length:
        raise ConfigError(f"models.{name} sets max_model_len {length} and engine.max_model_len "
                          f"{engine['max_model_len']}; keep one of them")
    images = (engine.get("limit_mm_per_prompt") or {}).get("image")
    if images is not None and images != model.get("max_images", 1):
        raise ConfigError(f"models.{name}.engine.limit_mm_per_prompt.image is {images} but max_images is "
                          f"{model.get('max_images', 1)}; set max_images: {images} (it sizes both)")


def check_prompt_template(template: str | None) -> None:
    """A model's ``prompt_template`` is None or a ``str.format`` template with the single field
    ``{prompt}`` (literal braces doubled); ValueError saying what is wrong otherwise. Checked here
    when the config is validated (without importing generation, which needs pandas) and by
    :class:`~think_in_safety.models.generate.Prompting` when it is built."""
    import string

    if template is None:
        return
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as error:
        raise ValueError(f"{template!r} is not a str.format template ({error}); double literal braces: "
                         "{{ and }}") from None
    if names != {"prompt"}:
        raise ValueError(f"{template!r} must have exactly one field, {{prompt}} (it has {sorted(names)}); "
                         "write literal braces as {{ and }}")


def model_prompting(config: dict, model: str) -> dict:
    """The keywords of :class:`~think_in_safety.models.generate.Prompting` for ``model``."""
    entry = config["models"][model]
    return {"system_prompt": entry.get("system_prompt", ""), "prompt_template": entry.get("prompt_template")}


def vllm_model_options(config: dict, model: str) -> dict:
    """The model's own :class:`~think_in_safety.models.vllm_backend.VLLMBackend` keywords:
    ``trust_remote_code`` and its engine section as ``engine_options`` (further vllm.LLM keywords)."""
    entry = config["models"][model]
    return {"trust_remote_code": bool(entry.get("trust_remote_code", False)),
            "engine_options": dict(entry.get("engine") or {})}


def _check_references(config: dict) -> None:
    models = config["models"]
    for name, model in models.items():
        base = model.get("base")
        if base is not None and base not in models:
            raise ConfigError(
                f"models.{name}.base is '{base}', which is not a model of the registry; "
                f"add it under models or set base: null"
            )
        if model["weights"] == "built" and "build" not in model:
            raise ConfigError(f"models.{name} has weights 'built' but no build section")
        if "build" in model and model["weights"] != "built":
            raise ConfigError(f"models.{name} has a build section but weights '{model['weights']}'")
        start = model.get("build", {}).get("start")
        if start not in (None, "init") and models.get(start, {}).get("weights") != "built":
            raise ConfigError(
                f"models.{name}.build.start is '{start}': use 'init' or the name of a built model"
            )
    for name, benchmark in config["benchmarks"].items():
        if benchmark["judge"] not in config["judges"]:
            raise ConfigError(
                f"benchmarks.{name}.judge is '{benchmark['judge']}', not a key of judges "
                f"({', '.join(config['judges'])})"
            )
        _check_image_source(name, benchmark)


#: the forms benchmarks.<name>.source takes, for error messages
SOURCE_FORMS = ("'demo' (the small release the workflow writes), an http(s) URL of the upstream release "
                "(https://host/...), or the path of an existing local folder laid out like the release")


def benchmark_source_problem(source: Any, cwd: str | Path | None = None) -> str | None:
    """Why ``source`` is not a benchmark source the workflow can read (None when it is): not
    'demo', not an http(s) URL with a host, and not an existing local folder (relative paths are
    read from ``cwd``, default the working directory, where Snakemake runs)."""
    import re
    from urllib.parse import urlparse

    if not isinstance(source, str) or not source.strip():
        return "is empty"
    if source == "demo":
        return None
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):", source)
    if scheme and (len(scheme.group(1)) > 1 or "://" in source):  # a URL (a Windows drive 'C:' is not)
        parsed = urlparse(source)
        if scheme.group(1) not in ("http", "https"):  # lower case, as the rules tell URLs from paths
            return f"is a URL of scheme '{scheme.group(1)}', not http or https (in lower case)"
        if not parsed.netloc:
            return "is a URL without a host"
        return None
    path = Path(source) if cwd is None or Path(source).is_absolute() else Path(cwd) / source
    if path.is_dir():
        return None
    where = "" if Path(source).is_absolute() else f" (relative to {Path(cwd or '.').resolve()})"
    if path.exists():
        return f"is a local path{where}, but a file, not a folder"
    if "/" not in source and "\\" not in source and not source.startswith("."):
        return "is neither 'demo', an http(s) URL, nor an existing local folder"
    return f"is a local folder that does not exist{where}"


def _check_benchmark_sources(config: dict) -> None:
    """Every benchmarks.<name>.source is 'demo', an http(s) URL or an existing local folder: a
    misspelt 'demo', 'htps://...' or a missing folder stops here, before any job (and before a
    report could name a source that was never read)."""
    for name, benchmark in config["benchmarks"].items():
        problem = benchmark_source_problem(benchmark.get("source"))
        if problem:
            raise ConfigError(f"benchmarks.{name}.source is {benchmark.get('source')!r}, which {problem}. "
                              f"Use {SOURCE_FORMS}.")


def _check_image_source(name: str, benchmark: dict) -> None:
    """A URL source of a benchmark whose images ship apart needs images_url (the registry says
    which benchmarks, and where their archive is published)."""
    from think_in_safety.benchmarks import get_benchmark

    problem = get_benchmark(name).missing_images_url(benchmark["source"], benchmark["options"])
    if problem:
        raise ConfigError(f"benchmarks.{name}.options.images_url is not set: {problem}")


def check_training_references(config: dict) -> None:
    """Cross-references of ``training_sets``, ``tis`` and ``sft``: formats of the training-set
    registry, one assembled TiS set with sources that give TiS source items, tuned models and
    sets that exist, known LLaMA-Factory hyperparameters."""
    from think_in_safety.models.tuning import HYPER_DEFAULTS
    from think_in_safety.training_sets import ASSEMBLED, FORMATS

    sets = config.get("training_sets", {})
    known = set(FORMATS) | {ASSEMBLED}
    for name, entry in sets.items():
        if entry["format"] not in known:
            raise ConfigError(f"training_sets.{name}.format is {entry['format']!r}; use one of {sorted(known)}")
    assembled = [name for name, entry in sets.items() if entry["format"] == ASSEMBLED]
    if len(assembled) > 1:
        raise ConfigError(f"training_sets {assembled} all have format {ASSEMBLED}: the tis section builds one set; "
                          "keep one of them")
    tis = config.get("tis", {})
    if assembled and not tis.get("sources"):
        raise ConfigError(f"training_sets.{assembled[0]} is assembled by the tis rules, but tis.sources is empty; "
                          "list the training sets it is built from under tis.sources")
    givers = [name for name, fmt in FORMATS.items() if fmt.gives_source_items]
    for position, source in enumerate(tis.get("sources", [])):
        name = source["training_set"]
        if name not in sets:
            raise ConfigError(f"tis.sources[{position}].training_set is {name!r}, which is not a key of "
                              f"training_sets; add {name} under training_sets or remove the source")
        fmt = FORMATS.get(sets[name]["format"])
        if fmt is None or not fmt.gives_source_items:
            raise ConfigError(f"tis.sources[{position}]: {name!r} has format {sets[name]['format']!r}; TiS sources "
                              f"must be {' or '.join(givers)} releases (the released TiS was built from those)")
    sft = config.get("sft", {})
    models = config["models"]
    for model in sft.get("models", []):
        if model not in models:
            raise ConfigError(f"sft.models names {model!r}, which is not a model of the registry; add it under "
                              "models or remove it from sft.models")
    for name in sft.get("training_sets", []):
        if name not in sets:
            raise ConfigError(f"sft.training_sets names {name!r}, which is not a key of training_sets; add it "
                              "under training_sets or remove it from sft.training_sets")
    unknown = set(sft.get("hyper", {})) - set(HYPER_DEFAULTS)
    if unknown:
        raise ConfigError(f"sft.hyper has unknown keys {sorted(unknown)}; known: {sorted(HYPER_DEFAULTS)}")


def check_generation_shards(config: dict) -> None:
    """``generation.shards`` names configured benchmarks only."""
    shards = config["generation"].get("shards") or {}
    unknown = sorted(set(shards) - set(config["benchmarks"]))
    if unknown:
        raise ConfigError(
            f"generation.shards names {unknown}, which are not keys of benchmarks "
            f"({sorted(config['benchmarks'])}): name a configured benchmark or remove the entry"
        )


def _check_agreement_judges(config: dict) -> None:
    """``judge_agreement.judges`` names judges of the config."""
    judges = (config.get("judge_agreement") or {}).get("judges")
    unknown = [judge for judge in judges or [] if judge not in config["judges"]]
    if unknown:
        raise ConfigError(f"judge_agreement.judges names {unknown}, which are not keys of judges; use names "
                          f"of judges ({', '.join(config['judges'])}) or null for every judge a benchmark uses")


def _hub_entries(config: dict):
    """(config key, model field, revision) of every registry entry that may name hub weights:
    models, transformers judges, transformers TiS captioner/writer."""
    for name, model in config["models"].items():
        yield f"models.{name}", model.get("weights"), model.get("revision")
    for name, judge in config.get("judges", {}).items():
        if judge.get("backend") == "transformers":
            yield f"judges.{name}", judge.get("model"), judge.get("revision")
        elif "revision" in judge:
            raise ConfigError(f"judges.{name}.revision is set, but only a transformers judge loads weights; "
                              "remove it")
    for stage in ("captioner", "writer"):
        settings = config.get("tis", {}).get(stage, {})
        if settings.get("backend") == "transformers":
            yield f"tis.{stage}", settings.get("model"), settings.get("revision")
        elif "revision" in settings:
            raise ConfigError(f"tis.{stage}.revision is set, but only the transformers backend loads weights; "
                              "remove it")


def _check_revisions(config: dict) -> None:
    """Hub weights are pinned: every hf:<org>/<name> has a revision (a commit), and only they do."""
    from think_in_safety.hub import PIN_HINT, hub_repo, is_hub_id

    field = {"models": "weights", "judges": "model", "tis": "model"}
    for key, weights, revision in _hub_entries(config):
        where = f"{key}.{field[key.split('.')[0]]}"
        if is_hub_id(weights):
            try:
                repo = hub_repo(weights)
            except ValueError as error:
                raise ConfigError(f"{where}: {error}") from None
            if revision is None:
                raise ConfigError(
                    f"{key} loads {weights} from the Hugging Face hub but has no revision; "
                    f"{PIN_HINT.format(repo=repo)}, and set {key}.revision: <that commit>")
        elif revision is not None:
            raise ConfigError(f"{key}.revision is set, but {where} is '{weights}', not hf:<org>/<name>; "
                              "a revision pins hub weights only: remove it")


def hub_pin(config: dict, key: str) -> tuple[str, str] | None:
    """(repo, revision) of the hub weights of ``key`` ('models.<m>', 'judges.<j>',
    'tis.captioner', 'tis.writer'), or None when they are not hf:<org>/<name>."""
    from think_in_safety.hub import hub_repo, is_hub_id

    section, name = key.split(".", 1)
    entry = config[section][name]
    weights = entry.get("weights") if section == "models" else entry.get("model")
    if section != "models" and entry.get("backend") != "transformers":
        return None
    if not is_hub_id(weights):
        return None
    if entry.get("revision") is None:
        raise ConfigError(f"{key} loads {weights} from the hub but has no revision (validate the config first)")
    return hub_repo(weights), entry["revision"]


def hub_location(config: dict, key: str) -> str | None:
    """The local copy (resources/hub/<org>/<name>/<revision>) of ``key``'s hub weights, or None."""
    from think_in_safety.hub import snapshot_dir

    pin = hub_pin(config, key)
    return snapshot_dir(*pin) if pin else None


def hub_manifest(config: dict, key: str) -> str | None:
    """The download manifest (download_model's output) of ``key``'s hub weights, or None."""
    from think_in_safety.hub import manifest_path

    pin = hub_pin(config, key)
    return manifest_path(*pin) if pin else None


def reasoning_pairs(config: dict) -> dict[str, str]:
    """Map each reasoning model to the base model it was trained from."""
    return {name: m["base"] for name, m in config["models"].items() if m.get("base")}


def model_decoding(config: dict, model: str) -> dict:
    """The decoding settings of ``model``: generation.decoding overridden by the model's own."""
    return {**config["generation"]["decoding"], **config["models"][model].get("decoding", {})}


def weights_location(config: dict, model: str, models_dir: str = "resources/models") -> str:
    """Where jobs load ``model`` from: a built directory, the local copy of hub weights
    (resources/hub/<org>/<name>/<revision>, see :mod:`think_in_safety.hub`) or a local path."""
    weights = config["models"][model]["weights"]
    if weights == "built":
        return f"{models_dir}/{model}"
    return hub_location(config, f"models.{model}") or weights


def model_backend(config: dict, model: str) -> str:
    """The generation backend of ``model``: its own, else generation.backend."""
    return config["models"][model].get("backend") or config["generation"]["backend"]


def api_keys_needed(config: dict) -> dict[str, list[str]]:
    """Environment variable -> the config keys whose endpoint it authenticates, for every endpoint
    the study calls: the judges its benchmarks use, models behind an API, and the TiS captioner
    and writer when a training set is assembled."""
    needed: dict[str, list[str]] = {}

    def need(variable, where):
        if variable:
            needed.setdefault(variable, []).append(where)

    used_judges = {benchmark["judge"] for benchmark in config["benchmarks"].values()}
    for name in sorted(used_judges):
        judge = config["judges"][name]
        if judge.get("backend") == "openai_compatible":
            need(judge.get("api_key_env"), f"judges.{name}")
    for name, model in config["models"].items():
        if model.get("backend") == "openai":
            need(model.get("api_key_env", API_MODEL_DEFAULTS["api_key_env"]), f"models.{name}")
    if any(entry.get("format") == "tis_assembly" for entry in config.get("training_sets", {}).values()):
        for stage in ("captioner", "writer"):
            settings = config.get("tis", {}).get(stage, {})
            if settings.get("backend") == "openai":
                need(settings.get("api_key_env"), f"tis.{stage}")
    return needed


def check_api_keys(config: dict, environ=None) -> None:
    """Fail before any job runs when an endpoint's API key is missing (Snakemake's onstart: a dry
    run is not affected), instead of after hours of generation when the first judge job starts."""
    import os

    environ = os.environ if environ is None else environ
    missing = {variable: keys for variable, keys in api_keys_needed(config).items()
               if not environ.get(variable, "").strip()}
    if missing:
        lines = [f"  - {variable} (for {', '.join(keys)})" for variable, keys in sorted(missing.items())]
        raise ConfigError("These API keys are not set, and the study calls their endpoints:\n" + "\n".join(lines)
                          + "\nExport each one in the shell that starts Snakemake (e.g. export OPENAI_API_KEY=...), "
                          "or set api_key_env: null for a local server that needs no key.")


if __name__ == "__main__":  # python -m think_in_safety.config FILE...: check config files parse
    import sys

    try:
        check_config_files(sys.argv[1:])
    except ConfigError as problem:
        sys.exit(str(problem))
    print(f"{len(sys.argv) - 1} config file(s) parse as YAML")
