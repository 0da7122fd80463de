"""Shared test helpers: where the repository and the real benchmark excerpts are."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO.parent / "shared" / "samples"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO
