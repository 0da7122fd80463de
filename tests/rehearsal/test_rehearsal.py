"""The rehearsal: config/paper.yaml, unchanged, run end to end on CPU against loopback stand-ins
(tests/rehearsal/world.py) with tests/rehearsal/overlay.yaml, which changes only endpoints and
sizes. Every rule of the paper's DAG runs: weight downloads from the hub stand-in (a gated repo
with a token), pinned benchmark and training-set downloads with their lock file, generation with
both verified model families (Qwen2.5-VL and Mllama, tiny and random, of the real architectures),
official-protocol LLM judging, TiS assembly, LLaMA-Factory SFT of both families on every set,
re-evaluation of every tuned model, tables, figures and the report.

`make rehearsal` runs it (TIS_REHEARSAL=1); TIS_REHEARSAL_DIR keeps the world and the run between
invocations (a rerun then resumes).
"""

import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.rehearsal import world

pytestmark = pytest.mark.rehearsal
BIN = Path(sys.executable).parent
REPO = world.REPO


def snakemake(*args: str, cwd: Path, env: dict, timeout: int) -> subprocess.CompletedProcess:
    command = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--configfile",
               str(world.PAPER), str(world.OVERLAY), *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def planned(output: str) -> Counter:
    """Jobs per rule from a dry run's job table."""
    counts = Counter()
    in_table = False
    for line in output.splitlines():
        if line.startswith("job") and "count" in line:
            in_table = True
            continue
        if in_table:
            match = re.match(r"^(\w+)\s+(\d+)$", line.strip())
            if match:
                counts[match.group(1)] = int(match.group(2))
            elif line.strip().startswith("total"):
                break
    return counts


@pytest.fixture
def root(tmp_path) -> Path:
    keep = os.environ.get("TIS_REHEARSAL_DIR")
    return Path(keep).resolve() if keep else tmp_path


def test_paper_study_rehearsed_end_to_end(root):
    if os.environ.get("TIS_REHEARSAL") != "1":
        pytest.skip("the rehearsal runs with `make rehearsal` (TIS_REHEARSAL=1)")
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))}
    env.update(PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", HF_TOKEN=world.TOKEN, HF_HOME=str(root / "hf-home"),
               OPENAI_API_KEY="rehearsal-key", DEEPSEEK_API_KEY="rehearsal-key", TOKENIZERS_PARALLELISM="false")
    work = root / "run"
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with world.serve(root / "world") as served:
        built = time.monotonic() - started
        plan = snakemake("-n", cwd=work, env=env, timeout=600)
        assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr[-3000:]
        jobs = planned(plan.stdout + plan.stderr)
        run = snakemake("--cores", str(os.cpu_count() or 2), cwd=work, env=env, timeout=3300)
        log = run.stdout + run.stderr
        (root / "rehearsal.log").write_text(log)
        assert run.returncode == 0, log[-8000:]
        again = snakemake("-n", cwd=work, env=env, timeout=600)
    wall = time.monotonic() - started
    assert "Nothing to be done" in again.stdout + again.stderr, (again.stdout + again.stderr)[-3000:]

    config = served["config"]
    hub = world.hub_models(config)
    if jobs:  # a fresh run: the plan held the whole paper DAG
        assert jobs["download_model"] == len(hub)
        assert jobs["sft"] == len(config["sft"]["models"]) * len(config["sft"]["training_sets"])
        for rule in ("download_benchmark", "download_training_set", "tis_thoughts", "judge", "report_page"):
            assert jobs[rule] >= 1, rule
    assert (work / "reports/report.html").stat().st_size > 10_000
    assert served["gated"], "paper.yaml has no gated model: the token path went untested"
    families = {m: config["models"][m]["chat_template"] for m in config["models"]}
    assert {"qwen2_vl", "mllama"} <= set(families.values())  # both verified families
    for model, family in families.items():
        assert (work / f"results/responses/{model}/figstep.parquet").exists(), (model, family)
    print(f"\nrehearsal: world built in {built:.0f} s, whole test {wall:.0f} s")
    print("jobs per rule: " + ", ".join(f"{rule} {count}" for rule, count in sorted(jobs.items())))
