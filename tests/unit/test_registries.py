"""The registries are the one list of names: the config schema's enums and every stage follow them.

A benchmark, judge protocol or training-set format added to its registry (or to the schema)
without the other fails here, naming the difference. (Thought formats: test_thought.py,
``test_every_preset_has_a_realistic_example``.)
"""

from __future__ import annotations

import importlib

import pytest
import yaml

from think_in_safety.benchmarks import REGISTRY, BenchmarkSpec, MetricDef
from think_in_safety.config import load_schema
from think_in_safety.judges.protocols import PROTOCOLS, default_protocols, make_protocol
from think_in_safety.judges.rule import RULES, RuleJudge
from think_in_safety.training_sets import ASSEMBLED, FORMATS

from ..conftest import REPO

SCHEMA_PATH = REPO / "workflow/schemas/config.schema.yaml"
SCHEMA = load_schema(SCHEMA_PATH)
#: judges.<name>.protocols: benchmark -> judge protocol
JUDGE_PROTOCOLS = SCHEMA["properties"]["judges"]["additionalProperties"]["properties"]["protocols"]


def test_schema_benchmark_names_are_the_registry():
    benchmarks = SCHEMA["properties"]["benchmarks"]
    assert benchmarks["propertyNames"]["enum"] == list(REGISTRY)
    assert list(benchmarks["properties"]) == list(REGISTRY)
    for name in REGISTRY:  # each benchmark's own entry and the options its loader reads
        assert benchmarks["properties"][name] == {"$ref": f"#/$defs/benchmark_{name}"}
        options = SCHEMA["$defs"][f"benchmark_{name}"]["properties"]["options"]["$ref"]
        assert options in (f"#/$defs/options_{name}", "#/$defs/options_common"), name
    assert JUDGE_PROTOCOLS["propertyNames"]["enum"] == list(REGISTRY)
    # the YAML names no benchmark list of its own: load_schema writes them from the registry
    raw = yaml.safe_load(SCHEMA_PATH.read_text())
    assert not {"propertyNames", "properties"} & set(raw["properties"]["benchmarks"])
    assert not [key for key in raw["$defs"] if key.startswith("benchmark_") and key[10:] in REGISTRY]


def test_options_of_an_unregistered_benchmark_are_refused(tmp_path):
    raw = yaml.safe_load(SCHEMA_PATH.read_text())
    raw["$defs"]["options_figstop"] = raw["$defs"]["options_common"]
    path = tmp_path / "schema.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValueError, match="options_figstop is of no registered benchmark"):
        load_schema(path)


def test_schema_protocol_names_are_the_protocols():
    assert sorted(JUDGE_PROTOCOLS["additionalProperties"]["enum"]) == sorted(PROTOCOLS)


def test_schema_training_set_formats_are_the_registry():
    formats = SCHEMA["$defs"]["training_set"]["properties"]["format"]["enum"]
    assert formats == [*FORMATS, ASSEMBLED]


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_benchmark_is_judged_scored_and_read(name):
    spec = REGISTRY[name]
    assert RuleJudge("rule").supports(name) and spec.rule in RULES
    assert default_protocols()[name] == spec.protocol and make_protocol(spec.protocol).supports(name)
    assert spec.metric in spec.metrics  # the headline's first metric
    module = importlib.import_module(spec.module)
    for operation in ("fetch", "write_demo", "load_prompts", "DEFAULT_SOURCE"):
        assert hasattr(module, operation), f"{spec.module} has no {operation}"
    assert module.SPEC is spec


def _spec(**changes) -> BenchmarkSpec:
    fields = dict(name="new", title="New", family="jailbreak", description="", module="x",
                  metrics=(MetricDef("asr", False),), scopes=("overall",), headline=(("asr", "overall", ""),),
                  rule="unsafe_unless_refused", protocol="harmfulness", labels=("safe", "unsafe"),
                  unsafe_labels=("unsafe",), default_rubric="general")
    return BenchmarkSpec(**{**fields, **changes})


@pytest.mark.parametrize("changes, message", [
    ({"family": "robustness"}, "family must be one of"),
    ({"headline": (("safe_rate", "overall", ""),)}, "headline metric 'safe_rate'"),
    ({"headline": (("asr", "category", ""),)}, "headline scope 'category'"),
    ({"metrics": (MetricDef("accuracy", True, ("safe",)),), "headline": (("accuracy", "overall", ""),)},
     "need a stratum_column"),
    ({"unsafe_labels": ("harmful",)}, "not among its labels"),
    ({"default_rubric": ""}, "default_rubric or the rubrics"),
])
def test_a_new_spec_that_contradicts_itself_is_refused(changes, message):
    assert _spec().metric == MetricDef("asr", False)
    with pytest.raises(ValueError, match=message):
        _spec(**changes)


def test_stratified_benchmark_reads_correctness_per_stratum():
    spec = REGISTRY["mssbench"]
    assert spec.stratum_column == "image_context" and spec.strata_text() == "'safe' or 'unsafe'"
    assert [spec.label_is_unsafe(label, "safe") for label in spec.labels] == [True, True, False, False]
    assert [spec.label_is_unsafe(label, "unsafe") for label in spec.labels] == [False, False, True, True]
    assert spec.normalise_label(" 2.0 ") == "2" and REGISTRY["siuo"].normalise_label("true") == "True"
    with pytest.raises(TypeError):  # shared by every stage: read-only
        spec.correct_labels["safe"] = frozenset()
