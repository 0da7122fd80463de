"""Fixtures shared by the report's tests."""

import pytest

from . import synthetic_study


@pytest.fixture(scope="session")
def synthetic_report(tmp_path_factory):
    """The report of the whole synthetic study (every figure group measured), built once."""
    return synthetic_study.build_report(tmp_path_factory.mktemp("synthetic_study"), n_boot=100)
