"""Every cross-reference of the config is checked in one place, ``config.validate_config``: a
mistake stops the run before any job as a ConfigError that names the key and the fix (formerly
some were checked only when the rules asked for them, as a bare ValueError)."""

from __future__ import annotations

import copy

import pytest
import yaml

from think_in_safety.config import ConfigError, check_prompt_template, validate_config
from think_in_safety.models.generate import Prompting

from ..conftest import REPO

SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
DEMO = yaml.safe_load((REPO / "config/config.yaml").read_text())


@pytest.mark.parametrize("change, message", [
    (lambda c: c.update(judge_agreement={"judges": ["rule", "gpt4o"]}),
     r"judge_agreement.judges names \['gpt4o'\], which are not keys of judges; use names of judges \(rule"),
    (lambda c: c.update(generation={**c.get("generation", {}), "shards": {"figstep_full": 4}}),
     r"generation.shards names \['figstep_full'\].*remove the entry"),
    (lambda c: c["tis"]["sources"].append({"training_set": "beavertails"}),
     r"tis.sources\[\d\].training_set is 'beavertails', which is not a key of training_sets; add beavertails"),
    (lambda c: c["sft"].update(models=["nobody"]), "sft.models names 'nobody'.*add it under models"),
])
def test_cross_references_stop_validation(change, message):
    config = copy.deepcopy(DEMO)
    change(config)
    with pytest.raises(ConfigError, match=message):
        validate_config(config, SCHEMA)


@pytest.mark.parametrize("template", ["Answer this.", "{question}", "{prompt} in \\boxed{}", "{prompt} {",
                                      "Q: {prompt}", "{{literal}} {prompt}", None])
def test_prompt_template_check_is_the_generation_rule(template):
    """The check run while planning (no generation code imported) accepts exactly what
    generation accepts, with the same message."""
    def outcome(check):
        try:
            check(template)
        except ValueError as error:
            return str(error)
        return None

    assert outcome(check_prompt_template) == outcome(lambda t: Prompting(prompt_template=t))


def test_a_bad_prompt_template_names_the_model():
    config = copy.deepcopy(DEMO)
    model = next(iter(config["models"]))
    config["models"][model]["prompt_template"] = "{question}"
    with pytest.raises(ConfigError, match=rf"models.{model}.prompt_template: .*exactly one field"):
        validate_config(config, SCHEMA)
