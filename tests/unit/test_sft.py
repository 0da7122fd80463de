"""think_in_safety.sft: tuned-model registration (planning), config cross-checks (config), the train YAML."""

import copy

import pytest
import yaml

from think_in_safety import sft
from think_in_safety.config import ConfigError, validate_config

from ..conftest import REPO

SCHEMA = REPO / "workflow/schemas/config.schema.yaml"


def _config(**overrides):
    config = {
        "benchmarks": {"figstep": {}},
        "models": {
            "base": {"weights": "hf:org/base", "revision": "b" * 40},
            "thinker": {"weights": "hf:org/thinker", "revision": "c" * 40, "base": "base",
                        "thought_format": "think_tags", "gpus": 1, "decoding": {"temperature": 0.6}},
        },
        "training_sets": {"vlguard": {"format": "vlguard"}, "spa_vl": {"format": "spa_vl", "label": "SPA-VL"},
                          "tis_assembled": {"format": "tis_assembly"}},
        "tis": {"sources": [{"training_set": "vlguard"}, {"training_set": "spa_vl", "answer": "writer"}]},
        "sft": {"models": ["thinker"], "training_sets": ["vlguard", "spa_vl", "tis_assembled"],
                "hyper": {"max_steps": 10}},
    }
    config.update(overrides)
    return validate_config(config, SCHEMA)


def test_tuned_models_join_the_registry():
    config = _config()
    tuned = sft.register_tuned_models(config)
    assert list(tuned) == ["thinker+vlguard", "thinker+spa_vl", "thinker+tis_assembled"]
    entry = config["models"]["thinker+spa_vl"]
    assert entry["weights"] == "resources/tuned_models/thinker+spa_vl"
    assert entry["base"] is None  # not a row of the collapse table
    assert (entry["thought_format"], entry["chat_template"], entry["gpus"]) == ("think_tags", "qwen2_vl", 1)
    assert entry["decoding"] == {"temperature": 0.6}
    assert entry["tuned_from"] == "thinker" and entry["training_set"] == "spa_vl"
    assert "SPA-VL" in entry["notes"]
    assert sft.is_tuned(config, "thinker+spa_vl") and not sft.is_tuned(config, "thinker")


def test_defaults_and_no_sft():
    minimal = {"benchmarks": {"figstep": {}}, "models": {"m": {"weights": "hf:a/b", "revision": "d" * 40}}}
    config = validate_config(minimal, SCHEMA)
    assert config["training_sets"] == {} and config["sft"]["models"] == []
    assert config["sft"]["max_rejected_share"] == 0.01
    assert config["tis"]["filters"]["near_duplicate_threshold"] == 0.95
    assert sft.register_tuned_models(config) == {}


@pytest.mark.parametrize("change, message", [
    (lambda c: c["sft"].update(models=["nobody"]), "sft.models names 'nobody'"),
    (lambda c: c["sft"].update(training_sets=["beavertails"]), "sft.training_sets names 'beavertails'"),
    (lambda c: c["tis"]["sources"].append({"training_set": "mis"}), "not a key of training_sets"),
    (lambda c: (c["training_sets"].update(mis={"format": "mis", "source": "demo", "label": "", "options": {}}),
                c["tis"]["sources"].append({"training_set": "mis"})), "must be vlguard or spa_vl"),
    (lambda c: c["tis"].update(sources=[]), "tis.sources is empty"),
    (lambda c: c["sft"]["hyper"].update(learnign_rate=1), "sft.hyper has unknown keys"),
])
def test_config_errors_name_the_key(change, message):
    config = _config()
    change(config)
    with pytest.raises(ConfigError, match=message):
        validate_config(config, SCHEMA)
    with pytest.raises(ConfigError, match=message):  # registering checks them too
        sft.register_tuned_models(config)


def test_schema_rejects_unknown_format():
    with pytest.raises(ConfigError, match="training_sets.x.format"):
        _config(training_sets={"x": {"format": "beavertails"}})


def test_train_config_from_template(tmp_path):
    template = tmp_path / "sft.yaml"
    template.write_text("image_max_pixels: 1000\nwarmup_ratio: 0.2\n")
    config = sft.train_config(sft.load_template(template), "org/model", tmp_path / "set", "tis", tmp_path / "out",
                              "mllama", {"learning_rate": 1e-5, "extra": {"warmup_ratio": 0.3}}, seed=4)
    assert config["model_name_or_path"] == "org/model" and config["template"] == "mllama"
    assert config["dataset"] == "tis" and config["dataset_dir"] == str(tmp_path / "set")
    assert config["image_max_pixels"] == 1000  # from the template
    assert config["warmup_ratio"] == 0.3  # sft.hyper.extra has the last word
    assert config["learning_rate"] == 1e-5 and config["seed"] == 4
    yaml.safe_load(yaml.safe_dump(config))


def test_template_cannot_set_what_the_rule_fills(tmp_path):
    template = tmp_path / "sft.yaml"
    template.write_text("dataset: other\n")
    with pytest.raises(ValueError, match="the sft rule fills these in"):
        sft.load_template(template)


def test_shipped_template_loads():
    assert "train_on_prompt" in sft.load_template(REPO / "config/llamafactory_sft.yaml")


def test_shipped_configs_register_tuned_models():
    for name, expected in (("config.yaml", 4), ("paper.yaml", 10)):
        config = validate_config(yaml.safe_load((REPO / "config" / name).read_text()), SCHEMA)
        before = copy.deepcopy(config["models"])
        tuned = sft.register_tuned_models(config)
        assert len(tuned) == expected
        assert set(config["models"]) == set(before) | set(tuned)
