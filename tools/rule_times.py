"""Where a Snakemake run's time went: wall time per rule, from the run's own log.

    python tools/rule_times.py                      # the newest log in .snakemake/log/
    python tools/rule_times.py path/to/run.log --top 12

Every job's start ("[<time>]" before "rule <name>:" / "localrule <name>:", with its "jobid:" and
"threads:") and end ("Finished jobid: <n> (Rule: <name>)") are read from the log Snakemake writes
for every run, so every rule is covered, not only those with benchmark: files. Printed: the run's
wall time (first start to last end), and per rule the jobs, the summed job wall time, the summed
core-seconds (wall x threads: what the rule took of the machine) and the longest job, sorted by
core-seconds. Times have one-second resolution (Snakemake's timestamps).
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime
from pathlib import Path

STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
START = re.compile(r"^(?:local)?rule (\S+):$")
JOBID = re.compile(r"^\s+jobid: (\d+)$")
THREADS = re.compile(r"^\s+threads: (\d+)$")
FINISHED = re.compile(r"^Finished jobid: (\d+) \(Rule: (\S+)\)$")


def parse(text: str) -> list[dict]:
    """The jobs of a log: rule, threads, start and end (datetimes), in the order they started."""
    jobs: dict[str, dict] = {}
    stamp = current = None
    for line in text.splitlines():
        if match := STAMP.match(line):
            stamp = datetime.strptime(" ".join(match.group(1).split()), "%a %b %d %H:%M:%S %Y")
        elif match := START.match(line):
            current = {"rule": match.group(1), "start": stamp, "threads": 1, "end": None}
        elif current is not None and (match := JOBID.match(line)):
            jobs[match.group(1)] = current
        elif current is not None and (match := THREADS.match(line)):
            current["threads"] = int(match.group(1))
        elif match := FINISHED.match(line):
            if match.group(1) in jobs:
                jobs[match.group(1)]["end"] = stamp
    return [job for job in jobs.values() if job["start"] and job["end"]]


def summary(jobs: list[dict]) -> tuple[float, list[dict]]:
    """(run wall seconds, per-rule rows sorted by core-seconds, largest first)."""
    if not jobs:
        return 0.0, []
    wall = (max(job["end"] for job in jobs) - min(job["start"] for job in jobs)).total_seconds()
    rules: dict[str, dict] = {}
    for job in jobs:
        seconds = (job["end"] - job["start"]).total_seconds()
        row = rules.setdefault(job["rule"], {"rule": job["rule"], "jobs": 0, "wall_s": 0.0, "core_s": 0.0,
                                             "longest_s": 0.0})
        row["jobs"] += 1
        row["wall_s"] += seconds
        row["core_s"] += seconds * job["threads"]
        row["longest_s"] = max(row["longest_s"], seconds)
    return wall, sorted(rules.values(), key=lambda row: -row["core_s"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log", nargs="?", help="a Snakemake log (default: the newest in .snakemake/log)")
    parser.add_argument("--top", type=int, default=0, help="show only the N rules that took most")
    args = parser.parse_args(argv)
    path = Path(args.log) if args.log else max(Path(".snakemake/log").glob("*.snakemake.log"),
                                               key=lambda p: p.stat().st_mtime, default=None)
    if path is None or not path.is_file():
        print("no Snakemake log found: give its path", file=sys.stderr)
        return 2
    wall, rows = summary(parse(path.read_text(encoding="utf-8", errors="replace")))
    total = sum(row["core_s"] for row in rows) or 1.0
    print(f"{path}: {sum(row['jobs'] for row in rows)} jobs, run wall time {wall:.0f} s ({wall / 60:.1f} min)\n")
    print("| rule | jobs | job wall s | core-s | share of core-s | longest job s |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows[: args.top or None]:
        print(f"| {row['rule']} | {row['jobs']} | {row['wall_s']:.0f} | {row['core_s']:.0f} | "
              f"{100 * row['core_s'] / total:.0f}% | {row['longest_s']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
