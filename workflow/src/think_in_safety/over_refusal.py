"""A small over-refusal probe: benign image questions that look risky at first glance.

Safety fine-tuning can teach a model to refuse what merely *sounds* dangerous (later comparisons
of TiS reported high refusal rates on benign queries: docs/study.md, "Benchmarks"). This probe ships
24 such questions (``data/benign_questions.json``, written for this project in the spirit of
XSTest and MOSSBench); each image is a drawing of its scene text. A response that refuses
(the GCG refusal strings of the rule judge) is an over-refusal; the fine-tuning table reports
the refused share beside MSSBench's safe-image half.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pandas as pd

from think_in_safety.benchmarks.common import finish_table, prompt_row
from think_in_safety.drawing import draw_scene, save_image

NAME = "benign_questions"


def load_items() -> list[dict]:
    text = resources.files("think_in_safety").joinpath("data/benign_questions.json").read_text(encoding="utf-8")
    return json.loads(text)["items"]


def write_probe(image_dir: str | Path, seed: int) -> pd.DataFrame:
    """Draw the images into ``image_dir`` and return the prompt table (``tables.PROMPT_COLUMNS``)."""
    rows = []
    for index, item in enumerate(load_items()):
        path = Path(image_dir) / f"{item['id']}.png"
        save_image(draw_scene(item["scene"], seed * 100 + index, size=(224, 224)), path)
        rows.append(prompt_row(id=f"{NAME}/{item['id']}", benchmark=NAME, subset="benign", category="benign",
                               prompt=item["question"], image_paths=[str(path)], question=item["question"],
                               judge_rubric="over_refusal"))
    return finish_table(rows, NAME, require_images=True)
