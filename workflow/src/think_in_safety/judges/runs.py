"""One judging job as the ``judge`` rule runs it: read, judge, log the counts, write atomically."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd

from think_in_safety.judges.base import Judge
from think_in_safety.judges.llm import ProtocolJudge


def judge_file(judge: Judge, *, prompts: str | Path, responses: str | Path, benchmark: str, output: str | Path,
               log: logging.Logger | None = None) -> pd.DataFrame:
    """Judge ``responses`` of ``benchmark`` and write the judgment table to ``output``.

    The prompt table's official texts, if it carries any (``official_texts.from_table``), are the
    judge texts sent. The log says who judged (identity, endpoint) with which text
    (``text_source``), how rows ended (ok / unparsed / error), and for LLM judges the calls: cache hits, calls made, requests and faults — the line to read after a
    rerun is ``cache hits N, calls made 0``.
    """
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
    errors = int(statuses.get("error", 0))
    if errors:
        log.warning("%d %s rows failed (reasons in rationale; excluded from the metrics). Rerun this job "
                    "(snakemake --forcerun judge ...) to retry them: cached replies are not requested again.",
                    errors, benchmark)
    return judgments
