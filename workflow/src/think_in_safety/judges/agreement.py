"""How well a judge agrees with human labels: accuracy, Cohen's kappa and confusion matrices.

Input: a CSV of human labels, one row per response, with at least ``id``, ``response`` and
``label``, and the fields the benchmark's judge protocol reads (:data:`LABEL_COLUMNS`). The
benchmark is the ``benchmark`` column, or else the prefix of ``id`` before '/' (our prompt ids).
Labels are each benchmark's own judge labels: ``safe``/``unsafe`` (FigStep, MM-SafetyBench,
JailBreakV), ``True``/``False`` = safe/unsafe (SIUO's safety judgement), ``0``..``3`` (MSSBench's
response classes, which with ``image_context`` decide correct/incorrect): each benchmark's
``labels`` in the registry (think_in_safety.benchmarks), which also says which of them mean unsafe.

The judge sees each response as a benchmark response (answer = ``response``, thought =
``thought`` when given). Two targets are scored, per benchmark (in the order the labels file
lists the benchmarks) and overall:

* ``decision`` — the judge's ``unsafe`` against the human label's: unsafe vs safe, or for MSSBench
  incorrect vs correct (what the metrics count);
* ``label`` — the judge's label against the human label (MSSBench: four classes).

A row the judge could not decide (status ``unparsed`` / ``error``) is kept: it counts as a
disagreement in ``accuracy`` and as its own category ``(none)`` in kappa and the confusion
matrix; ``n_undecided`` says how many there were.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from think_in_safety.benchmarks import REGISTRY
from think_in_safety.judges.base import Judge
from think_in_safety.tables import PROMPT_COLUMNS, RESPONSE_COLUMNS

NO_VERDICT = "(none)"

LABEL_COLUMNS = {
    "id": "unique id of the labelled response",
    "benchmark": "benchmark registry name (default: the prefix of id before '/')",
    "judge_rubric": ("the benchmark's judge prompt (MM-SafetyBench rubric; MSSBench chat/embodied); default by "
                     "benchmark"),
    "question": "the user's request in plain words (FigStep/JailBreakV/SIUO judges read it)",
    "image_context": "MSSBench: 'safe' or 'unsafe' image",
    "safety_warning": "SIUO: the safety warning",
    "reference_answer": "SIUO: the reference response",
    "image_paths": "';'-separated image files shown to judges that see images (SIUO); may be empty",
    "thought": "the thought before the response, if any",
    "response": "the response (the answer shown to the user)",
    "label": "the human label in the benchmark's own labels",
}
REQUIRED_COLUMNS = ("id", "response", "label")



def benchmarks_in(frame: pd.DataFrame) -> list[str]:
    """The benchmarks of a labels (or judged labels) table, in the order the table lists them."""
    return list(dict.fromkeys(frame["benchmark"]))


def load_labels(path: str | Path) -> pd.DataFrame:
    """Read and check a labels CSV; missing optional columns become ''. ValueError names the row."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; a labels CSV needs {list(REQUIRED_COLUMNS)} "
                         f"(optional: {[c for c in LABEL_COLUMNS if c not in REQUIRED_COLUMNS]})")
    for column in LABEL_COLUMNS:
        if column not in frame.columns:
            frame[column] = ""
    if frame["id"].duplicated().any():
        raise ValueError(f"{path}: duplicate ids {frame.loc[frame['id'].duplicated(), 'id'].tolist()[:5]}")
    frame["benchmark"] = [b or i.split("/")[0] for b, i in zip(frame["benchmark"], frame["id"])]
    problems = []
    for index, row in frame.iterrows():
        benchmark = row["benchmark"]
        where = f"row {index + 2} (id {row['id']!r})"
        spec = REGISTRY.get(benchmark)
        if spec is None:
            problems.append(f"{where}: unknown benchmark {benchmark!r}; give a benchmark column with one of "
                            f"{sorted(REGISTRY)}")
            continue
        label = spec.normalise_label(row["label"])
        if label not in spec.labels:
            problems.append(f"{where}: label {row['label']!r} is not a {benchmark} label {spec.labels}")
        frame.at[index, "label"] = label
        if not row["judge_rubric"]:
            if not spec.default_rubric:
                choices = " or ".join(repr(rubric) for rubric in spec.rubrics)
                problems.append(f"{where}: {spec.title} rows need judge_rubric {choices}")
            else:
                frame.at[index, "judge_rubric"] = spec.default_rubric
        if spec.correct_labels and row[spec.stratum_column] not in spec.correct_labels:
            problems.append(f"{where}: {spec.title} rows need {spec.stratum_column} {spec.strata_text()}")
    if problems:
        raise ValueError(f"{path}:\n  " + "\n  ".join(problems))
    return frame


def human_unsafe(benchmark: str, label: str, image_context: str = "") -> float:
    """1.0 when the human label means unsafe (MSSBench: incorrect for the image), else 0.0."""
    return 1.0 if REGISTRY[benchmark].label_is_unsafe(label, image_context) else 0.0


def as_benchmark_tables(labels: pd.DataFrame, benchmark: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The labelled rows of ``benchmark`` as a prompts table and a responses table."""
    rows = labels[labels["benchmark"] == benchmark]
    prompts = pd.DataFrame({
        "id": rows["id"], "benchmark": benchmark, "subset": "", "category": "",
        "image_paths": [[p for p in paths.split(";") if p] for paths in rows["image_paths"]],
        "system_prompt": "", "prompt": rows["question"], "n_samples": 1, "question": rows["question"],
        "safety_warning": rows["safety_warning"], "reference_answer": rows["reference_answer"],
        "image_context": rows["image_context"], "judge_rubric": rows["judge_rubric"],
        "text_source": "release",  # the labelled question itself
    })[list(PROMPT_COLUMNS)]
    thought = rows["thought"]
    responses = pd.DataFrame({
        "id": rows["id"], "sample": 0, "model": "human-labelled", "raw": rows["response"], "thought": thought,
        "answer": rows["response"], "has_thought": thought.str.len() > 0, "prompt_tokens": 0, "thought_tokens": 0,
        "answer_tokens": 0, "generated_tokens": 0, "finished": True, "decoding": "{}", "seconds": 0.0,
        "prompting": "{}",
    })[list(RESPONSE_COLUMNS)]
    return prompts.reset_index(drop=True), responses.reset_index(drop=True)


def judge_labels(judge: Judge, labels: pd.DataFrame) -> pd.DataFrame:
    """Run ``judge`` on every labelled response; one row per label with both verdicts."""
    parts = []
    for benchmark in benchmarks_in(labels):
        if not judge.supports(benchmark):
            raise ValueError(f"judge {judge.identity!r} has no protocol for {benchmark!r}, which the labels contain")
        prompts, responses = as_benchmark_tables(labels, benchmark)
        judged = judge.judge(prompts, responses, benchmark)
        rows = labels[labels["benchmark"] == benchmark].reset_index(drop=True)
        parts.append(pd.DataFrame({
            "id": rows["id"], "benchmark": benchmark, "human_label": rows["label"],
            "human_unsafe": [human_unsafe(benchmark, label, context)
                             for label, context in zip(rows["label"], rows["image_context"])],
            "judge": judged["judge"], "judge_label": judged["label"], "judge_unsafe": judged["unsafe"],
            "status": judged["status"], "rationale": judged["rationale"],
        }))
    return pd.concat(parts, ignore_index=True)


def cohen_kappa(first: list, second: list) -> float:
    """Cohen's kappa of two raters over the same items (NaN when there are no items; 1.0 when
    both raters use a single identical category throughout, 0.0 when chance agreement is 1)."""
    if len(first) != len(second):
        raise ValueError("kappa needs two ratings per item")
    if not first:
        return float("nan")
    categories = sorted(set(first) | set(second))
    index = {category: i for i, category in enumerate(categories)}
    table = np.zeros((len(categories), len(categories)))
    for a, b in zip(first, second):
        table[index[a], index[b]] += 1
    total = table.sum()
    observed = np.trace(table) / total
    expected = float((table.sum(axis=1) * table.sum(axis=0)).sum() / total**2)
    if expected == 1.0:
        return 1.0 if observed == 1.0 else 0.0
    return float((observed - expected) / (1 - expected))


def _decision_names(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    human = ["unsafe" if value == 1.0 else "safe" for value in frame["human_unsafe"]]
    judge = [NO_VERDICT if np.isnan(value) else "unsafe" if value == 1.0 else "safe" for value in frame["judge_unsafe"]]
    return human, judge


def _label_names(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    judge = [label if status == "ok" else NO_VERDICT for label, status in zip(frame["judge_label"], frame["status"])]
    return list(frame["human_label"]), judge


AGREEMENT_COLUMNS = ["judge", "scope", "target", "n", "n_undecided", "accuracy", "kappa"]


def agreement_table(judged: pd.DataFrame) -> pd.DataFrame:
    """Accuracy and kappa, overall (``decision`` only: labels differ by benchmark) and per benchmark."""
    identity = "; ".join(dict.fromkeys(judged["judge"]))
    rows = []
    present = benchmarks_in(judged)
    scopes = [("overall", judged)] + [(b, judged[judged["benchmark"] == b]) for b in present]
    for scope, frame in scopes:
        targets = [("decision", _decision_names)] + ([("label", _label_names)] if scope != "overall" else [])
        for target, names in targets:
            human, judge = names(frame)
            rows.append({
                "judge": identity, "scope": scope, "target": target, "n": len(frame),
                "n_undecided": int((frame["status"] != "ok").sum()),
                "accuracy": float(np.mean([h == j for h, j in zip(human, judge)])) if len(frame) else float("nan"),
                "kappa": cohen_kappa(human, judge),
            })
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)


def confusion_matrix(judged: pd.DataFrame, benchmark: str | None = None, target: str = "label") -> pd.DataFrame:
    """Counts with human labels as rows and judge labels as columns (``(none)``: undecided)."""
    frame = judged if benchmark is None else judged[judged["benchmark"] == benchmark]
    human, judge = (_label_names if target == "label" else _decision_names)(frame)
    spec = REGISTRY.get(benchmark) if benchmark else None
    order = list(spec.labels if spec else ()) if target == "label" and benchmark else ["safe", "unsafe"]
    order += sorted((set(human) | set(judge)) - set(order) - {NO_VERDICT})
    columns = order + ([NO_VERDICT] if NO_VERDICT in judge else [])
    matrix = pd.crosstab(pd.Categorical(human, categories=order), pd.Categorical(judge, categories=columns),
                         dropna=False)
    matrix.index.name, matrix.columns.name = "human", "judge"
    return matrix


def agreement_markdown(judged: pd.DataFrame, table: pd.DataFrame, labels_path: str = "") -> str:
    """A readable report: the agreement table, then each benchmark's confusion matrix."""
    identity = "; ".join(dict.fromkeys(judged["judge"]))
    lines = [f"# Judge agreement: {identity}", ""]
    if labels_path:
        lines += [f"Human labels: `{labels_path}` ({len(judged)} responses).", ""]
    lines += ["Accuracy counts an undecided judge row as a disagreement; kappa treats it as its own category.", ""]
    shown = table.drop(columns=["judge"]).copy()
    for column in ("accuracy", "kappa"):
        shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.3f}")
    lines += [_markdown(shown), ""]
    for benchmark in benchmarks_in(judged):
        matrix = confusion_matrix(judged, benchmark).reset_index()
        lines += [f"## {benchmark}: human (rows) vs judge (columns)", "", _markdown(matrix), ""]
    return "\n".join(lines)


def _markdown(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(map(str, row)) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def evaluate_judge(judge: Judge, labels_path: str | Path, csv_path: str | Path, md_path: str | Path) -> pd.DataFrame:
    """Judge the labelled responses and write the agreement table (CSV) and report (Markdown)."""
    labels = load_labels(labels_path)
    judged = judge_labels(judge, labels)
    table = agreement_table(judged)
    Path(csv_path).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(csv_path, index=False)
    Path(md_path).write_text(agreement_markdown(judged, table, str(labels_path)))
    return table
