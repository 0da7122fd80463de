"""The prompts stage as Snakemake runs it: a bad benchmark option stops the run before any job
(an existing prompt table is left alone), and a built table records the release it read."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from think_in_safety.benchmarks.common import release_of

from .conftest import REPO

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HF_HUB_OFFLINE": "1"}


def snakemake(workdir: Path, config: dict, *args: str) -> subprocess.CompletedProcess:
    (workdir / "study.yaml").write_text(yaml.safe_dump(config))
    command = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--cores", "1",
               "--configfile", "study.yaml", "--directory", str(workdir), *args]
    return subprocess.run(command, cwd=workdir, env=ENV, capture_output=True, text=True, timeout=600)


def demo_config() -> dict:
    return yaml.safe_load((REPO / "config/config.yaml").read_text())


def test_bad_option_stops_before_the_prompts_job_deletes_its_table(tmp_path):
    table = tmp_path / "results/prompts/siuo.parquet"
    table.parent.mkdir(parents=True)
    pd.DataFrame({"id": ["siuo/1001"]}).to_parquet(table, index=False)
    before = table.read_bytes()
    config = demo_config()
    config["benchmarks"]["siuo"]["options"] = {"n_samples": "three"}
    result = snakemake(tmp_path, config, "--forcerun", "prompts", "results/prompts/siuo.parquet")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "benchmarks.siuo.options.n_samples: 'three' is not of type 'integer'" in output, output[-3000:]
    assert table.read_bytes() == before  # no job ran: the table built earlier is still there
    assert not (tmp_path / "resources").exists() and not (tmp_path / "logs/prompts").exists()


def test_prompts_table_records_its_source_and_release(tmp_path):
    config = demo_config()
    config["benchmarks"]["siuo"]["options"] = {"limit": 1}
    result = snakemake(tmp_path, config, "results/prompts/siuo.parquet")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    record = release_of(pd.read_parquet(tmp_path / "results/prompts/siuo.parquet"))
    assert record["source"] == "demo" and record["release_dir"] == "resources/benchmarks/demo/siuo"
    assert record["files_read"] == 1 + 9  # siuo_gen.json and one image per category
    log = (tmp_path / "logs/prompts/siuo.log").read_text()
    assert f"digest sha256 {record['sha256']}" in log
