"""One judging job as the ``judge`` rule runs it: read, judge, log the counts, write atomically,
and keep account of rows the judge could not decide because calls failed.

Failed rows (status ``error``: calls that failed after their retries, up to the judge's
``max_error_fraction``; more stops the job) are written as such, never as a verdict, are left
out of the metrics, and the report marks the benchmark and model with "n failed of N". The job
also writes ``<output stem>.failed.json`` next to its output (:func:`failures_path`), which the
rule reads back as its ``retry`` param (:func:`retry_note`):

* rows failed: the file gets a new retry round, e.g. ``"retry 1: 12 of 800 rows failed"``. The
  param differs from the one the job ran with, so the next plain ``snakemake`` reruns the job
  (Snakemake's params trigger: "Params have changed since last execution"), and the rerun makes
  only the failed calls (every reply received is cached; failures never are);
* no row failed: the note is left as it is, so the job stays up to date.

So the job is rerun while rows fail and settles once none does. A warning on stderr at the end
of the job, and again at the end of the whole run (:func:`warn_pending`, the workflow's
``onsuccess``/``onerror``), names the benchmark, model, count and how to retry. Without
Snakemake's record of the job (``.snakemake/`` not copied along with the results) the params
trigger cannot fire: ``snakemake --forcerun <judgment file>`` retries there.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

# the failure records are read while the workflow is planned (judge.smk): pandas and the judges
# are imported by the judging job only (judge_file)
if TYPE_CHECKING:
    import pandas as pd

    from think_in_safety.judges.base import Judge

#: ``retry`` param of a job whose rows never failed
NO_FAILURES = "none"


def failures_path(output: str | Path) -> Path:
    """The failed-rows record next to a judgment table: ``<benchmark>.failed.json``."""
    output = Path(output)
    return output.with_name(f"{output.name.removesuffix('.parquet')}.failed.json")


def read_failures(output: str | Path) -> dict | None:
    """The failed-rows record of ``output``, or None when its rows never failed (or it is unreadable)."""
    try:
        return json.loads(failures_path(output).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def retry_note(output: str | Path) -> str:
    """The ``retry`` param of the judge job writing ``output`` (module docstring)."""
    record = read_failures(output)
    return str(record.get("note", NO_FAILURES)) if record else NO_FAILURES


def _retry_command(output: str | Path) -> str:
    return f"rerun snakemake to retry them (only the failed calls are made; no record in .snakemake/: " \
           f"snakemake --forcerun {output})"


def _record_failures(judgments: pd.DataFrame, output: Path, *, identity: str, benchmark: str) -> dict | None:
    """Write or update the failed-rows record (module docstring); the record when rows failed."""
    failed = judgments[judgments["status"] == "error"]
    previous = read_failures(output)
    path = failures_path(output)
    if failed.empty:
        if previous and previous.get("failed"):
            path.write_text(json.dumps({**previous, "failed": 0, "failed_rows": []}, indent=1) + "\n")
        return None
    retry_round = int((previous or {}).get("round", 0)) + 1
    models = sorted({str(m) for m in judgments["model"]})
    record = {
        "round": retry_round,
        "note": f"retry {retry_round}: {len(failed)} of {len(judgments)} rows failed",
        "failed": len(failed),
        "rows": len(judgments),
        "judge": identity,
        "benchmark": benchmark,
        "model": ", ".join(models),
        "output": str(output),
        "reasons": [[reason, n] for reason, n in Counter(failed["rationale"].astype(str)).most_common(3)],
        "failed_rows": [[str(i), int(s)] for i, s in zip(failed["id"], failed["sample"])],
    }
    partial = path.with_name(path.name + ".part")
    partial.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(partial, path)
    return record


def failure_warning(record: dict) -> str:
    """The one-line warning for a failed-rows record."""
    reasons = "; ".join(f"{reason} ({n})" for reason, n in record.get("reasons", [])[:2])
    return (f"WARNING: judge {record['judge']} on {record['model']} / {record['benchmark']}: {record['failed']} of "
            f"{record['rows']} rows failed ({reasons}); they are left out of the metrics and marked in the report. "
            f"To retry: {_retry_command(record['output'])}.")


def judge_file(judge: Judge, *, prompts: str | Path, responses: str | Path, benchmark: str, output: str | Path,
               log: logging.Logger | None = None, stderr=None) -> pd.DataFrame:
    """Judge ``responses`` of ``benchmark`` and write the judgment table to ``output``.

    The prompt table's official texts, if it carries any (``official_texts.from_table``), are the
    judge texts sent. The log says who judged (identity, endpoint) with which text
    (``text_source``), how rows ended (ok / unparsed / error), and for LLM judges the calls: cache
    hits, calls made, requests and faults — the line to read after a rerun is ``cache hits N,
    calls made 0``. Failed rows are recorded for the retry (module docstring) and a warning goes to
    ``stderr`` (default: the process's real stderr, which Snakemake shows, not the log).
    """
    import pandas as pd

    from think_in_safety.judges.llm import ProtocolJudge

    log = log or logging.getLogger("think_in_safety.judges")
    judgments = judge.judge(pd.read_parquet(prompts), pd.read_parquet(responses), benchmark=benchmark)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".part")
    judgments.to_parquet(partial, index=False)
    os.replace(partial, output)

    statuses = judgments["status"].value_counts().to_dict()
    log.info("judge %s on %s: %d rows; status %s; judge text %s", judge.identity_for(benchmark), benchmark,
             len(judgments), statuses, judge.text_source_for(benchmark))
    if isinstance(judge, ProtocolJudge):
        log.info("judge %s at %s: %s", judge.name, judge.endpoint, judge.stats.summary())
    unparsed = int(statuses.get("unparsed", 0))
    if unparsed:
        log.warning("%d %s rows unparsed (raw judge reply kept in judge_output; excluded from the metrics)",
                    unparsed, benchmark)
    record = _record_failures(judgments, output, identity=judge.identity_for(benchmark), benchmark=benchmark)
    if record:
        warning = failure_warning(record)
        log.warning("%s (recorded in %s)", warning, failures_path(output))
        print(warning, file=stderr or sys.__stderr__, flush=True)
    return judgments


def pending_failures(outputs: Iterable[str | Path]) -> list[dict]:
    """The failed-rows records of ``outputs`` whose rows still fail."""
    records = []
    for output in outputs:
        record = read_failures(output)
        if record and record.get("failed") and Path(output).exists():
            records.append(record)
    return records


def warn_pending(outputs: Iterable[str | Path], stderr=None) -> int:
    """Print a warning per judgment table of ``outputs`` with failed rows (the end-of-run summary);
    how many there were."""
    records = pending_failures(outputs)
    stream = stderr or sys.stderr
    for record in records:
        print(failure_warning(record), file=stream, flush=True)
    if records:
        total = sum(int(r["failed"]) for r in records)
        print(f"WARNING: {total} judged rows failed in {len(records)} judgment tables (above); the results are "
              "incomplete until a rerun judges them.", file=stream, flush=True)
    return len(records)
