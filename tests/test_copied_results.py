"""Results copied into a fresh clone are up to date: a small target made in checkout A, the
checkout and its results copied to B with the checkout's files re-created at a later time (as
`git clone` does), and `snakemake -n` in B has nothing to do, with or without Snakemake's
records (.snakemake/) copied along. A script whose content changed still reruns its jobs. And no
rule's params or inputs hold the absolute path of the checkout (they would differ in B)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import REPO

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HF_HUB_OFFLINE": "1",
       "OPENAI_API_KEY": "not-used", "DEEPSEEK_API_KEY": "not-used"}
#: made by the workflow, never part of a checkout
PRODUCTS = ("results", "resources", "logs", "reports", "benchmarks", ".snakemake")
TARGETS = ("results/judge_agreement/rule.csv", "results/prompts/figstep.parquet")


def checkout_copy(destination: Path) -> Path:
    """The repository's files as a checkout has them (no environments, caches or products)."""
    ignored = shutil.ignore_patterns(".git", ".venv*", "__pycache__", ".pytest_cache", *PRODUCTS)
    shutil.copytree(REPO, destination, ignore=ignored, symlinks=True)
    return destination


def snakemake(workdir: Path, *args: str) -> str:
    command = [str(BIN / "snakemake"), "--snakefile", str(workdir / "Snakefile"), "--cores", "2", *args]
    result = subprocess.run(command, cwd=workdir, env=ENV, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-4000:]}"
    return result.stdout + result.stderr


def clone_with_results(source: Path, destination: Path, metadata: bool) -> Path:
    """``source`` with its results copied (times kept, as rsync -a or tar do) into a checkout whose
    every file is newly written, later than the results (as a fresh clone)."""
    shutil.copytree(source, destination, symlinks=True,
                    ignore=None if metadata else shutil.ignore_patterns(".snakemake"))
    later = time.time() + 60
    for path in destination.rglob("*"):
        top = path.relative_to(destination).parts[0]
        if path.is_file() and top not in PRODUCTS:
            data = path.read_bytes()
            path.unlink()
            path.write_bytes(data)  # a new file (new inode), as git writes it
            os.utime(path, (later, later))
    return destination


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    checkout = checkout_copy(tmp_path_factory.mktemp("copied") / "A")
    snakemake(checkout, *TARGETS)
    assert "Nothing to be done" in snakemake(checkout, "-n", *TARGETS)
    return checkout


@pytest.mark.parametrize("metadata", [True, False], ids=["with-.snakemake", "results-only"])
def test_results_copied_into_a_fresh_clone_are_up_to_date(made, tmp_path, metadata):
    clone = clone_with_results(made, tmp_path / "B", metadata)
    planned = snakemake(clone, "-n", *TARGETS)
    assert "Nothing to be done" in planned, planned
    assert "got back the modification times recorded then" in planned


def test_a_changed_script_in_the_clone_still_reruns_its_jobs(made, tmp_path):
    clone = clone_with_results(made, tmp_path / "B", metadata=True)
    script = clone / "workflow/scripts/judge_agreement.py"
    script.write_text(script.read_text() + "\n# changed\n")
    planned = snakemake(clone, "-n", *TARGETS)
    assert "rule judge_agreement:" in planned and "rule write_demo_benchmark:" not in planned, planned


@pytest.mark.parametrize("config", [None, "config/paper.yaml"], ids=["default", "paper"])
def test_no_rule_records_the_checkout_path(tmp_path, config):
    """Every job's params and inputs as Snakemake records them (`--touch` records without running)."""
    checkout = checkout_copy(tmp_path / "checkout")
    snakemake(checkout, "--touch", *(["--configfile", config] if config else []))
    records = list((checkout / ".snakemake/metadata").iterdir())
    assert len(records) > 50
    leaking = {}
    for record in records:
        data = json.loads(record.read_text())
        for key in ("params", "input"):
            if str(checkout) in json.dumps(data.get(key)):
                leaking[base64.b64decode(record.name.replace("@", "/")).decode()] = (data["rule"], key)
    assert not leaking, leaking
