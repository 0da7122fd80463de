"""tools/rule_times.py: per-rule wall time and core-seconds read from a Snakemake log."""

import importlib.util

from ..conftest import REPO

spec = importlib.util.spec_from_file_location("rule_times", REPO / "tools" / "rule_times.py")
rule_times = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rule_times)

# the shape of Snakemake 9's log: a stamp, the rule, its fields; a stamp, the end of a job id
LOG = """\
[Wed Dec  2 01:53:04 2026]
localrule tune_tiny_model:
    output: resources/models/tiny-vl-a
    jobid: 7
    threads: 2
Select jobs to execute...
[Wed Dec  2 01:53:05 2026]
rule judge:
    jobid: 12
    threads: 1
[Wed Dec  2 01:53:08 2026]
Finished jobid: 12 (Rule: judge)
[Wed Dec  2 01:54:46 2026]
Finished jobid: 7 (Rule: tune_tiny_model)
[Wed Dec  2 01:54:47 2026]
localrule judge:
    jobid: 13
    threads: 1
"""


def test_jobs_rules_and_core_seconds(tmp_path, capsys):
    jobs = rule_times.parse(LOG)
    assert [(job["rule"], job["threads"]) for job in jobs] == [("tune_tiny_model", 2), ("judge", 1)]  # 13 never ended
    wall, rows = rule_times.summary(jobs)
    assert wall == 102
    assert rows[0] == {"rule": "tune_tiny_model", "jobs": 1, "wall_s": 102.0, "core_s": 204.0, "longest_s": 102.0}
    assert rows[1]["rule"] == "judge" and rows[1]["core_s"] == 3.0
    path = tmp_path / "run.log"
    path.write_text(LOG)
    assert rule_times.main([str(path), "--top", "1"]) == 0
    printed = capsys.readouterr().out
    assert "2 jobs, run wall time 102 s" in printed and "| tune_tiny_model | 1 | 102 | 204 | 99% | 102 |" in printed
    assert "| judge |" not in printed
