"""The judge rules as a user runs them, in a temporary directory: switching a benchmark's judge
is a config change; the endpoint judge survives the fault server, counts its faults in the log,
and a rerun makes zero calls; the metrics count the rows the judge could not decide; the
agreement rule scores a judge on the shipped labels.

Prompts and responses are written straight into the temporary results/ (``--allowed-rules``
keeps Snakemake from rebuilding them), so no model runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from tests.conftest import REPO
from tests.judge_rows import figstep_tables

from .fault_server import DEFAULT_PLAN, FaultServer

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HF_HUB_OFFLINE": "1"}
TARGET = "results/metrics/{judge}/m/figstep.parquet"


def snakemake(workdir: Path, *args: str, target: str) -> str:
    command = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
               "--configfile", str(workdir / "config.yaml"), "--cores", "1", *args, "--", target]
    result = subprocess.run(command, cwd=workdir, env=ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return result.stdout + result.stderr


def write_config(workdir: Path, figstep_judge: str, base_url: str) -> None:
    config = {
        "benchmarks": {"figstep": {"judge": figstep_judge}},
        "models": {"m": {"weights": "/not/needed/here"}},
        "metrics": {"bootstrap_resamples": 100},
        "judges": {
            "rule": {"backend": "rule"},
            "endpoint": {"backend": "openai_compatible", "base_url": base_url, "model": "fault-judge",
                         "api_key_env": None, "timeout_s": 0.5, "backoff_s": 0.01, "max_backoff_s": 0.05,
                         "max_concurrency": 4},
        },
        "judge_agreement": {"judges": ["rule"]},
    }
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))


def test_switch_judge_by_config_survive_faults_and_rerun_without_calls(tmp_path):
    prompts, responses = figstep_tables(16, model="m")
    responses.loc[5, "answer"] = "GARBLED: the judge cannot read this one"
    (tmp_path / "results/prompts").mkdir(parents=True)
    (tmp_path / "results/responses/m").mkdir(parents=True)
    prompts.to_parquet(tmp_path / "results/prompts/figstep.parquet")
    responses.to_parquet(tmp_path / "results/responses/m/figstep.parquet")
    allowed = ["--allowed-rules", "judge", "metrics"]

    with FaultServer(DEFAULT_PLAN, retry_after=0.05, slow_s=1.0) as server:
        write_config(tmp_path, "rule", server.base_url)
        snakemake(tmp_path, *allowed, target=TARGET.format(judge="rule"))
        rule = pd.read_parquet(tmp_path / "results/judgments/rule/m/figstep.parquet")
        assert set(rule["judge"]) == {"rule:refusal-v2"} and server.requests == 0

        write_config(tmp_path, "endpoint", server.base_url)  # the only change
        snakemake(tmp_path, *allowed, target=TARGET.format(judge="endpoint"))
        judged = pd.read_parquet(tmp_path / "results/judgments/endpoint/m/figstep.parquet")
        assert judged["id"].tolist() == responses["id"].tolist()  # no row lost
        assert set(judged["judge"]) == {"endpoint:fault-judge:harm-judge-v1"}
        assert judged["status"].value_counts().to_dict() == {"ok": 15, "unparsed": 1}
        log = (tmp_path / "logs/judge/endpoint/m/figstep.log").read_text()
        faults = dict(re.findall(r"(\w+) (\d+)", log.split("faults: ")[-1].splitlines()[0]))
        assert {kind: int(n) for kind, n in faults.items()} == dict(server.injected) != {}
        assert f"requests sent {server.requests} " in log and "1 figstep rows unparsed" in log

        metrics = pd.read_parquet(tmp_path / TARGET.format(judge="endpoint"))
        overall = metrics[(metrics["metric"] == "asr") & (metrics["scope"] == "overall")].iloc[0]
        assert (overall["n"], overall["n_excluded"]) == (15, 1)

        sent = server.requests
        snakemake(tmp_path, *allowed, "--forcerun", "judge", target=TARGET.format(judge="endpoint"))
        log = (tmp_path / "logs/judge/endpoint/m/figstep.log").read_text()
        assert "judge calls needed 16: cache hits 16, calls made 0" in log and server.requests == sent


def test_agreement_rule_on_the_shipped_labels(tmp_path):
    write_config(tmp_path, "rule", "http://127.0.0.1:9/v1")
    snakemake(tmp_path, "--allowed-rules", "judge_agreement", target="results/judge_agreement/rule.csv")
    table = pd.read_csv(tmp_path / "results/judge_agreement/rule.csv")
    overall = table[table["scope"] == "overall"].iloc[0]
    assert overall["n"] >= 60 and overall["judge"] == "rule:refusal-v2"
    assert (tmp_path / "results/judge_agreement/rule.md").read_text().startswith("# Judge agreement: rule:refusal-v2")
