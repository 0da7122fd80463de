"""The per-rule environments deploy the way Snakemake deploys them, and the SLURM profile's
settings are the ones in force under SLURM.

Snakemake copies each envs/*.yaml to ``.snakemake/conda/<hash>.yaml`` and runs
``conda env create --file <copy>``; conda runs the file's ``pip:`` section from the copy's folder.
No conda channel is reachable on these machines, so ``conda`` here is tests/fake_conda/conda, a
stand-in that answers Snakemake's calls and runs that ``pip:`` section the way conda does (from
the copy's folder, with the caller's environment) as an offline ``pip install --dry-run`` of its
local requirements. The real Snakemake deployment code runs unchanged.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import REPO

BIN = Path(sys.executable).parent
FAKE_CONDA = REPO / "tests" / "fake_conda"
ENV_FILES = sorted((REPO / "envs").glob("*.yaml"))


def fake_conda_env(tmp_path: Path, **extra) -> dict:
    return {
        **os.environ,
        "PATH": f"{FAKE_CONDA}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}",
        "FAKE_CONDA_LOG": str(tmp_path / "conda.jsonl"),
        "FAKE_CONDA_PREFIX": str(tmp_path / "conda-prefix"),
        **extra,
    }


def conda_calls(tmp_path: Path) -> list[dict]:
    log = tmp_path / "conda.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def deploy_copy(env_file: Path, tmp_path: Path, env: dict) -> subprocess.CompletedProcess:
    """What Snakemake does with one env file: a copy in .snakemake/conda/, created from there."""
    folder = tmp_path / "workdir" / ".snakemake" / "conda"
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / f"{env_file.stem}_0123456789abcdef.yaml"
    shutil.copy(env_file, copy)
    command = ["conda", "env", "create", "--quiet", "--file", str(copy), "--prefix", str(copy.with_suffix(""))]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("env_file", ENV_FILES, ids=lambda p: p.name)
def test_env_file_deploys_from_its_snakemake_copy(env_file, tmp_path):
    env = fake_conda_env(tmp_path, TIS_WORKFLOW_ROOT=str(REPO))
    result = deploy_copy(env_file, tmp_path, env)
    assert result.returncode == 0, result.stderr
    (created,) = [c for c in conda_calls(tmp_path) if c["call"] == "env create"]
    assert created["cwd"].endswith(".snakemake/conda")
    assert created["local"], f"{env_file.name} does not install the package"


def test_a_relative_package_path_would_not_deploy(tmp_path):
    """The control: the form the env files had before (`-e ../`) points at .snakemake/ there."""
    spec = yaml.safe_load((REPO / "envs" / "data.yaml").read_text())
    pip = next(d for d in spec["dependencies"] if isinstance(d, dict))["pip"]
    pip[pip.index("-e ${TIS_WORKFLOW_ROOT}")] = "-e ../"
    relative = tmp_path / "data.yaml"
    relative.write_text(yaml.safe_dump(spec))
    result = deploy_copy(relative, tmp_path, fake_conda_env(tmp_path))
    assert result.returncode != 0
    assert "does not appear to be a Python project" in result.stderr


def test_snakemake_deploys_every_env_the_demo_uses(tmp_path):
    """Snakemake itself (--use-conda --conda-create-envs-only): the Snakefile sets
    TIS_WORKFLOW_ROOT before it creates any env, so each copy installs this checkout."""
    env = {key: value for key, value in fake_conda_env(tmp_path).items() if key != "TIS_WORKFLOW_ROOT"}
    command = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--configfile",
               str(REPO / "config/config.yaml"), "--directory", str(tmp_path / "run"), "--use-conda",
               "--conda-create-envs-only", "--cores", "1"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    created = [c for c in conda_calls(tmp_path) if c["call"] == "env create"]
    used = {"data.yaml", "figures.yaml", "generate.yaml", "tis.yaml", "train.yaml"}
    assert len(created) == len(used)
    assert all(c["returncode"] == 0 and c["cwd"].endswith("run/.snakemake/conda") for c in created)


def test_workflow_profile_never_overrides_the_slurm_profile():
    """profiles/default is loaded on top of any --profile and wins: none of its keys may differ
    from the SLURM profile's (it once set latency-wait 5 over SLURM's 60)."""
    workflow_profile = yaml.safe_load((REPO / "profiles/default/config.yaml").read_text())
    slurm = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    assert slurm["latency-wait"] >= 30
    clashes = {k: (v, slurm[k]) for k, v in workflow_profile.items() if k in slurm and slurm[k] != v}
    assert not clashes
    machine_keys = {"cores", "jobs", "latency-wait", "executor", "default-resources", "set-resources",
                    "set-threads", "software-deployment-method", "local-cores"}
    assert not machine_keys & set(workflow_profile)
