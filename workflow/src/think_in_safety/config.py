"""Configuration: JSON-schema validation with defaults, and lookups into the registries.

Snakemake's own ``validate`` fills defaults only under ``properties``; the registries here are
maps (``models``, ``benchmarks``, ``judges``) whose entries also carry defaults, so this module
fills them too, and turns schema errors into one message that names the key and the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the key and what is expected."""


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
    return yaml.safe_load(yaml.safe_dump(value))


def validate_config(config: dict, schema_path: str | Path) -> dict:
    """Validate ``config`` against the schema, fill defaults in place, check cross-references."""
    schema = yaml.safe_load(Path(schema_path).read_text())
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
    _check_references(config)
    return config


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


def reasoning_pairs(config: dict) -> dict[str, str]:
    """Map each reasoning model to the base model it was trained from."""
    return {name: m["base"] for name, m in config["models"].items() if m.get("base")}


def model_decoding(config: dict, model: str) -> dict:
    """The decoding settings of ``model``: generation.decoding overridden by the model's own."""
    return {**config["generation"]["decoding"], **config["models"][model].get("decoding", {})}


def weights_location(config: dict, model: str, models_dir: str = "resources/models") -> str:
    """Where generation loads ``model`` from: a built directory, a hub id or a local path."""
    weights = config["models"][model]["weights"]
    if weights == "built":
        return f"{models_dir}/{model}"
    if weights.startswith("hf:"):
        return weights[len("hf:") :]
    return weights


def model_backend(config: dict, model: str) -> str:
    """The generation backend of ``model``: its own, else generation.backend."""
    return config["models"][model].get("backend") or config["generation"]["backend"]
