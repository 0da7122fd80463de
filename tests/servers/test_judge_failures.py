"""A judge job that loses some rows to an outage (up to max_error_fraction) does not look
finished: the rows stay errors (never verdicts), a WARNING on stderr names the benchmark, model,
count and how to retry (at the end of the job and again at the end of the run), the report marks
"n failed of N", and a plain rerun retries exactly those rows (from the cache for the others)
and then settles. The endpoint is the loopback fault server; prompts and responses are written
straight into the temporary results/ (``--allowed-rules``), so no model runs."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from think_in_safety.comparison import COMPARISON_COLUMNS
from think_in_safety.judges import make_judge
from think_in_safety.judges.runs import failures_path, judge_file, retry_note, warn_pending
from think_in_safety.metrics import METRIC_COLUMNS
from think_in_safety.report import ReportInputs, judge_failure_rows, render_report

from tests.conftest import REPO
from tests.judge_rows import figstep_tables

from .fault_server import FaultServer

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HF_HUB_OFFLINE": "1"}
JUDGMENTS = "results/judgments/endpoint/m/figstep.parquet"
TARGET = "results/metrics/endpoint/m/figstep.parquet"
SPEC = {"backend": "openai_compatible", "model": "fault-judge", "api_key_env": None, "timeout_s": 0.5,
        "backoff_s": 0.01, "max_backoff_s": 0.02, "max_retries": 1, "max_concurrency": 4}


def outage_tables(n=30, failing=(3,)):
    """figstep prompts and responses whose rows ``failing`` the endpoint answers 500 until healed."""
    prompts, responses = figstep_tables(n, model="m")
    for row in failing:
        responses.loc[row, "answer"] = f"ALWAYS-FAIL {responses.loc[row, 'answer']}"
    return prompts, responses


def test_failed_rows_are_recorded_and_a_rerun_retries_only_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    prompts, responses = outage_tables()
    prompts.to_parquet("prompts.parquet")
    responses.to_parquet("responses.parquet")
    output = tmp_path / "judgments/m/figstep.parquet"
    with FaultServer(plan=(), retry_after=0.01) as server:
        spec = {**SPEC, "base_url": server.base_url, "cache": str(tmp_path / "cache")}
        stderr = io.StringIO()
        first = judge_file(make_judge("endpoint", spec), prompts="prompts.parquet", responses="responses.parquet",
                           benchmark="figstep", output=output, stderr=stderr)
        assert first["status"].value_counts().to_dict() == {"ok": 29, "error": 1}
        assert first.loc[3, "label"] == "" and pd.isna(first.loc[3, "unsafe"])  # an error, never a verdict
        assert re.search(r"WARNING: judge endpoint:fault-judge:\S+ on m / figstep: 1 of 30 rows failed .*"
                         r"rerun snakemake to retry them", stderr.getvalue())
        record = json.loads(failures_path(output).read_text())
        assert record["failed_rows"] == [[responses.loc[3, "id"], 0]]
        assert retry_note(output) == "retry 1: 1 of 30 rows failed"

        server.always_fail_marker = None  # the outage is over
        sent = server.requests
        again = judge_file(make_judge("endpoint", spec), prompts="prompts.parquet", responses="responses.parquet",
                           benchmark="figstep", output=output, stderr=io.StringIO())
        assert server.requests - sent == 1  # the failed call only; the 29 others are cache hits
        assert (again["status"] == "ok").all()
        assert retry_note(output) == "retry 1: 1 of 30 rows failed"  # unchanged: the job stays up to date
        assert warn_pending([output], stderr=io.StringIO()) == 0


def test_the_report_marks_failed_rows_per_benchmark_and_model(tmp_path):
    judgments = pd.DataFrame({"id": ["a", "b", "c"], "sample": 0, "model": "m", "judge": "j:v1",
                              "status": ["ok", "error", "error"]})
    path = tmp_path / "judgments/j/m/figstep.parquet"
    path.parent.mkdir(parents=True)
    judgments.to_parquet(path)
    failures = judge_failure_rows([path])
    assert failures == [{"benchmark": "figstep", "title": failures[0]["title"], "model": "m", "judge": "j:v1",
                         "failed": 2, "rows": 3}]
    out = tmp_path / "report.html"
    render_report(pd.DataFrame(columns=COMPARISON_COLUMNS), pd.DataFrame(columns=METRIC_COLUMNS), None, {}, out,
                  inputs=ReportInputs(benchmarks=["figstep"], judge_failures=failures))
    html = " ".join(out.read_text().split())
    assert "Incomplete judgments." in html and "m: 2 failed of 3 (judge j:v1)" in html
    assert "Judge failures: m: 2 failed of 3 responses" in html  # in the benchmark's own section


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    command = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
               "--configfile", str(workdir / "config.yaml"), "--cores", "1", "--allowed-rules", "judge", "metrics",
               *args, "--", TARGET]
    result = subprocess.run(command, cwd=workdir, env=ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return result


def test_a_plain_rerun_of_the_workflow_retries_the_failed_rows_then_settles(tmp_path):
    prompts, responses = outage_tables()
    (tmp_path / "results/prompts").mkdir(parents=True)
    (tmp_path / "results/responses/m").mkdir(parents=True)
    prompts.to_parquet(tmp_path / "results/prompts/figstep.parquet")
    responses.to_parquet(tmp_path / "results/responses/m/figstep.parquet")
    with FaultServer(plan=(), retry_after=0.01) as server:
        config = {"benchmarks": {"figstep": {"judge": "endpoint"}}, "models": {"m": {"weights": "/not/needed"}},
                  "metrics": {"bootstrap_resamples": 100}, "judge_agreement": {"judges": []},
                  "judges": {"endpoint": {**SPEC, "base_url": server.base_url}}}
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))

        first = snakemake(tmp_path)
        warnings = [line for line in first.stderr.splitlines() if line.startswith("WARNING: judge endpoint")]
        assert len(warnings) == 2, first.stderr[-3000:]  # the job's, and the end-of-run summary's
        assert "on m / figstep: 1 of 30 rows failed" in warnings[-1]
        metrics = pd.read_parquet(tmp_path / TARGET)
        overall = metrics[(metrics["metric"] == "asr") & (metrics["scope"] == "overall")].iloc[0]
        assert (overall["n"], overall["n_excluded"]) == (29, 1)

        planned = snakemake(tmp_path, "-n")
        assert re.search(r"rule judge:.*?reason: Params have changed", planned.stdout, re.S), planned.stdout

        server.always_fail_marker = None
        sent = server.requests
        second = snakemake(tmp_path)
        assert server.requests - sent == 1 and "WARNING: judge" not in second.stderr
        judged = pd.read_parquet(tmp_path / JUDGMENTS)
        assert (judged["status"] == "ok").all()
        log = (tmp_path / "logs/judge/endpoint/m/figstep.log").read_text()
        assert "cache hits 29, calls made 1" in log

        settled = snakemake(tmp_path, "-n")
        assert "Nothing to be done" in settled.stdout + settled.stderr
