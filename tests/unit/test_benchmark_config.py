"""benchmarks.<name> in the config: every source form and every loader option is checked when the
config is validated, before any job runs (workflow/schemas/config.schema.yaml,
think_in_safety.config)."""

from __future__ import annotations

import copy
import re

import pytest
import yaml

from think_in_safety import official_texts
from think_in_safety.benchmarks import REGISTRY
from think_in_safety.config import ConfigError, benchmark_source_problem, load_schema, validate_config

from ..conftest import REPO

SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
MODULES = REPO / "workflow/src/think_in_safety/benchmarks"


def demo() -> dict:
    return yaml.safe_load((REPO / "config/config.yaml").read_text())


def schema() -> dict:
    return load_schema(SCHEMA)  # with the benchmark entries the registry fills in


def with_benchmark(name: str, **entry) -> dict:
    config = demo()
    config["benchmarks"][name] = {**config["benchmarks"].get(name, {}), **entry}
    return config


# --------------------------------------------------------------------------------------------
# options
# --------------------------------------------------------------------------------------------
def test_misspelt_option_is_refused_naming_the_accepted_keys():
    with pytest.raises(ConfigError, match=r"benchmarks\.figstep\.options: 'limt' is not one of \['limit',"):
        validate_config(with_benchmark("figstep", options={"limt": 2}), SCHEMA)


@pytest.mark.parametrize(("name", "options", "where"), [
    ("siuo", {"n_samples": "three"}, r"benchmarks\.siuo\.options\.n_samples: 'three' is not of type 'integer'"),
    ("siuo", {"n_samples": 0}, r"benchmarks\.siuo\.options\.n_samples: 0 is less than the minimum of 1"),
    ("figstep", {"limit": 0}, r"benchmarks\.figstep\.options\.limit"),
    ("figstep", {"include_text_only": "false"}, r"benchmarks\.figstep\.options\.include_text_only"),
    ("figstep", {"question_file": "../safebench.csv"}, r"benchmarks\.figstep\.options\.question_file"),
    ("mm_safetybench", {"image_types": ["PHOTO"]}, r"benchmarks\.mm_safetybench\.options\.image_types\.0"),
    ("mm_safetybench", {"scenarios": ["01-Illegal_Activity"]}, r"benchmarks\.mm_safetybench\.options\.scenarios\.0"),
    ("mm_safetybench", {"images_sha256": "abc"}, r"benchmarks\.mm_safetybench\.options\.images_sha256"),
    ("jailbreakv", {"split": "tiny"}, r"benchmarks\.jailbreakv\.options\.split: 'tiny' is not one of"),
    ("mssbench", {"subsets": ["chats"]}, r"benchmarks\.mssbench\.options\.subsets\.0"),
    ("mssbench", {"require_images": 1}, r"benchmarks\.mssbench\.options\.require_images"),
    ("jailbreakv", {"n_samples": 3}, r"benchmarks\.jailbreakv\.options: 'n_samples' is not one of"),  # SIUO's
    ("figstep", {"official_texts": {"source": "https://example.org"}}, r"'official_texts' is not one of"),
])
def test_bad_option_values_are_refused_with_their_key(name, options, where):
    with pytest.raises(ConfigError, match=where):
        validate_config(with_benchmark(name, options=options), SCHEMA)


def test_shipped_configs_keep_their_options():
    for path in ("config/config.yaml", "config/paper.yaml", "tests/e2e/config.yaml", "tests/e2e/sft_config.yaml"):
        config = {**demo(), **yaml.safe_load((REPO / path).read_text())}
        given = copy.deepcopy({name: entry.get("options", {}) for name, entry in config["benchmarks"].items()})
        validated = validate_config(config, SCHEMA)
        assert {name: entry["options"] for name, entry in validated["benchmarks"].items()} == given, path


def _resolve(node: dict, root: dict) -> dict:
    return root["$defs"][node["$ref"].split("/")[-1]] if "$ref" in node else node


def test_every_benchmark_has_its_own_entry_and_every_option_a_description():
    root = schema()
    benchmarks = root["properties"]["benchmarks"]
    assert set(benchmarks["propertyNames"]["enum"]) == set(benchmarks["properties"]) == set(REGISTRY)
    for name, ref in benchmarks["properties"].items():
        options = _resolve(_resolve(ref, root)["properties"]["options"], root)
        assert options["default"] == {}  # nothing is filled into the config: the loaders own the defaults
        assert set(options["propertyNames"]["enum"]) == set(options["properties"]), name
        for key, node in options["properties"].items():
            assert _resolve(node, root).get("description", "").strip(), f"{name}.options.{key} has no description"


def _keys_read(name: str) -> set[str]:
    """The option keys a benchmark module reads (``options.get("k"``, ``opt_bool(options, "k"``),
    with those every module reads through the shared helpers."""
    text = (MODULES / f"{name}.py").read_text()
    keys = set(re.findall(r'options\.get\("(\w+)"', text)) | set(re.findall(r'opt_bool\(options, "(\w+)"', text))
    if "opt_limit(options)" in text:
        keys.add("limit")
    if "transfer_options(options)" in text:
        keys |= {"retries", "backoff", "timeout", "workers", "link"}
    if name in official_texts.UPSTREAM:
        keys.add(official_texts.OPTION)
    return keys


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_schema_accepts_exactly_the_options_each_loader_reads(name):
    root = schema()
    options = _resolve(_resolve(root["properties"]["benchmarks"]["properties"][name], root)["properties"]["options"],
                       root)
    assert set(options["propertyNames"]["enum"]) == _keys_read(name)


# --------------------------------------------------------------------------------------------
# sources
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("source", "problem"), [
    ("demoo", "is neither 'demo', an http(s) URL, nor an existing local folder"),
    ("htps://raw.githubusercontent.com/ThuCCSLab/FigStep/main", "is a URL of scheme 'htps', not http or https"),
    ("HTTPS://example.org/figstep", "is a URL of scheme 'HTTPS'"),
    ("https:///figstep", "is a URL without a host"),
    ("resources/no_such_copy/figstep", "is a local folder that does not exist"),
    ("", "is empty"),
])
def test_unreadable_source_is_refused_naming_key_value_and_forms(source, problem):
    with pytest.raises(ConfigError) as error:
        validate_config(with_benchmark("figstep", source=source), SCHEMA)
    message = str(error.value)
    if source:  # the empty string is the schema's to refuse (minLength)
        assert f"benchmarks.figstep.source is {source!r}, which {problem}" in message
        assert "'demo'" in message and "http(s) URL" in message and "local folder" in message
    else:
        assert "benchmarks.figstep.source" in message


def test_missing_local_folder_is_refused_even_when_prompts_exist(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results/prompts").mkdir(parents=True)
    (tmp_path / "results/prompts/figstep.parquet").write_bytes(b"built earlier")
    with pytest.raises(ConfigError, match=r"benchmarks\.figstep\.source is '/data/FigStep', which is a local "
                                          "folder that does not exist"):
        validate_config(with_benchmark("figstep", source="/data/FigStep"), SCHEMA)


def test_a_file_is_not_a_release_folder(tmp_path):
    (tmp_path / "safebench.csv").write_text("dataset\n")
    with pytest.raises(ConfigError, match="a file, not a folder"):
        validate_config(with_benchmark("figstep", source=str(tmp_path / "safebench.csv")), SCHEMA)


def test_readable_sources_pass(tmp_path, monkeypatch):
    (tmp_path / "copies/FigStep").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)  # relative paths are read from the working directory (Snakemake's)
    for source in ("demo", "https://raw.githubusercontent.com/ThuCCSLab/FigStep/main", "http://127.0.0.1:8000/fs",
                   "copies/FigStep", str(tmp_path / "copies/FigStep")):
        validate_config(with_benchmark("figstep", source=source), SCHEMA)
        assert benchmark_source_problem(source) is None


def test_relative_source_is_read_from_the_given_folder(tmp_path):
    (tmp_path / "FigStep").mkdir()
    assert benchmark_source_problem("FigStep", cwd=tmp_path) is None
    assert "does not exist" in benchmark_source_problem("./FigStep", cwd=tmp_path / "elsewhere")
