"""The SLURM profile on a real cluster: `make test-slurm` starts a single-node SLURM with
accounting (tests/slurm/cluster.sh), then this test runs a reduced DAG of the embedded default
through profiles/slurm and checks with `sacct` that every job ran through SLURM with the CPUs,
memory and time limit its rule asked for. Conda cannot run here (no channel is reachable), so
the jobs use the current environment; every other profile setting is the shipped one. The DAG
(tests/e2e/sft_config.yaml) builds a benchmark's prompts, a tiny model's init and the TiS sources
from two demo training sets: small and data-sized jobs."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from think_in_safety.resources import DATA_JOB, SMALL_JOB

from ..conftest import REPO

pytestmark = pytest.mark.slurm

BIN = Path(sys.executable).parent
TARGETS = [
    "results/prompts/mssbench.parquet",
    "resources/tiny_zoo/init/seed1",
    "results/tis/sources.parquet",
    "resources/training_sets/sft/vlguard",
]
SMALL = (1, SMALL_JOB["mem_mb"], SMALL_JOB["runtime"])
DATA = (1, DATA_JOB["mem_mb"], DATA_JOB["runtime"])
# rule -> (threads, mem_mb, runtime minutes) as the rules declare them
EXPECTED = {
    "write_demo_benchmark": SMALL,
    "prompts": SMALL,
    "write_chat_data": SMALL,
    "build_tiny_tokenizer": SMALL,
    "build_tiny_init": (1, 3000, 15),
    "write_demo_training_set": SMALL,
    "convert_training_set": DATA,
    "tis_sources": DATA,
}


def test_profile_submits_every_job_with_its_resources(tmp_path):
    if not shutil.which("sbatch") or subprocess.run(["sinfo"], capture_output=True).returncode:
        pytest.skip("no SLURM cluster is running: use `make test-slurm`")
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    profile.pop("software-deployment-method")  # no conda channel here
    profile["default-resources"].update(slurm_partition="debug", slurm_account="tis")
    for rule_resources in profile["set-resources"].values():  # the test cluster has one partition
        rule_resources["slurm_partition"] = "debug"
    profile["slurm-init-seconds-before-status-checks"] = 5
    prefix = f"tistest{os.getpid()}"  # tells this run's jobs from earlier ones in sacct
    profile["slurm-jobname-prefix"] = prefix
    (tmp_path / "profile").mkdir()
    (tmp_path / "profile/config.yaml").write_text(yaml.safe_dump(profile))
    workdir = tmp_path / "run"

    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HF_HUB_OFFLINE": "1"}
    command = [
        "timeout", "-s", "INT", "900", str(BIN / "snakemake"), *TARGETS, "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(workdir), "--profile", str(tmp_path / "profile"),
        "--configfile", str(REPO / "tests/e2e/sft_config.yaml"),
    ]
    run = subprocess.run(command, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    for target in TARGETS:
        assert (workdir / target).exists()

    accounting = subprocess.run(
        ["sacct", "-X", "-P", "-n", "--starttime", "now-2hours",
         "--format=JobID,JobName,Comment,AllocCPUS,ReqMem,Timelimit,State"],
        capture_output=True, text=True, check=True,
    ).stdout
    jobs = [line.split("|") for line in accounting.splitlines() if line.strip()]
    ours = [job for job in jobs if job[1].startswith(prefix)]
    seen = set()
    for job_id, _name, comment, cpus, memory, limit, state in ours:
        rule = next((r for r in EXPECTED if comment.startswith(f"rule_{r}")), None)
        if rule is None:
            continue
        threads, mem_mb, runtime = EXPECTED[rule]
        print(f"sacct: {job_id}|{comment}|{cpus}|{memory}|{limit}|{state}")
        assert state == "COMPLETED", (job_id, comment, state)
        assert int(cpus) == threads, (comment, cpus)
        assert int(memory.rstrip("M")) >= mem_mb, (comment, memory)  # the plugin may add headroom
        hours, minutes, seconds = limit.split(":")
        assert int(hours) * 60 + int(minutes) == runtime, (comment, limit)
        seen.add(rule)
    assert seen == set(EXPECTED), f"rules seen in sacct: {seen}; sacct said:\n{accounting}"
