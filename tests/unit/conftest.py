"""Fixtures shared by the unit tests: the synthetic study's report and a tiny model."""

import pytest

from think_in_safety.models import chat_data, zoo

from . import synthetic_study


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A random-init tiny Qwen2.5-VL (vocab 512), built once: the processor and chat template
    are real, the output is noise. Tests read it and never write into it."""
    root = tmp_path_factory.mktemp("zoo")
    zoo.build_tokenizer(chat_data.tokenizer_corpus(40, seed=0), root / "tok", vocab_size=512)
    zoo.build_tiny_model(root / "tok", root / "model", seed=0)
    return str(root / "model")


@pytest.fixture(scope="session")
def synthetic_report(tmp_path_factory):
    """The report of the whole synthetic study (every figure group measured), built once."""
    return synthetic_study.build_report(tmp_path_factory.mktemp("synthetic_study"), n_boot=100)
