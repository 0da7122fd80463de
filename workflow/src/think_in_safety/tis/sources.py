"""Stage 1 of the TiS assembly: source items from the configured training-set releases.

The released TiS took VLGuard's training split (images, questions and reference answers, safe
and unsafe) and SPA-VL's harmful questions (docs/study.md, "The TiS dataset"). Each configured source is a
training-set release read by its format's ``source_items``; every item gets a policy category
(from the source's own labels, else from the question's words) and the decision the answer must
take (allowed for a safe request, the category's class for an unsafe one).
"""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd

from think_in_safety.tis.policy import NO_RISK, Policy, classify, decision_for
from think_in_safety.training_sets import get_format

SOURCE_COLUMNS = {
    "item_id": "'<source>/<index in the source>' (stable across runs)",
    "source": "training-set name the item comes from (a key of training_sets)",
    "source_index": "position in the source release (VLGuard: '<record>.<pair>', SPA-VL: row)",
    "image": "image file, relative to the stage's image directory",
    "image_name": "the image's path inside its release",
    "question": "the user's request as the source words it",
    "reference_answer": "the source's answer ('' when none)",
    "request_label": "'safe' or 'unsafe' (from the source)",
    "source_category": "the source's own labels, most specific first, joined by ' | '",
    "category": "policy category key of an unsafe request ('unspecified' when none fits); 'none' for a safe one",
    "decision": "taxonomy class the answer must take: allowed / disallowed / safe_completion",
    "answer_source": "'reference' (keep the source's answer) or 'writer' (the thought writer writes a new one)",
}


def collect_sources(sources: list[dict], policy: Policy, image_dir: str | Path, seed: int) -> pd.DataFrame:
    """Items of every source (``{"name", "format", "release", "options", "limit", "answer"}``).

    ``limit`` keeps a seeded random sample of that many items of the source (None: all).
    """
    rows = []
    for source in sources:
        fmt = get_format(source["format"])
        items = fmt.source_items(source["release"], source.get("options", {}), Path(image_dir) / source["name"])
        limit = source.get("limit")
        if limit and len(items) > limit:
            chosen = sorted(random.Random(f"{seed}:{source['name']}").sample(range(len(items)), limit))
            items = [items[i] for i in chosen]
        for item in items:
            labels = [label for label in item["source_labels"] if label]
            unsafe = item["request_label"] == "unsafe"
            category = classify(policy, labels, item["question"]) if unsafe else NO_RISK
            rows.append({
                "item_id": f"{source['name']}/{item['source_index']}",
                "source": source["name"],
                "source_index": item["source_index"],
                "image": f"{source['name']}/{item['image']}",
                "image_name": item["image_name"],
                "question": item["question"],
                "reference_answer": item["reference_answer"],
                "request_label": item["request_label"],
                "source_category": " | ".join(labels),
                "category": category,
                "decision": decision_for(policy, category, item["request_label"]),
                "answer_source": source.get("answer", "reference"),
            })
    table = pd.DataFrame(rows, columns=list(SOURCE_COLUMNS))
    if table.empty:
        raise ValueError("the TiS sources gave no items: check tis.sources and the releases they name")
    duplicated = table["item_id"].duplicated()
    if duplicated.any():
        raise ValueError(f"duplicate item ids, e.g. {table.loc[duplicated, 'item_id'].head(3).tolist()}")
    return table
