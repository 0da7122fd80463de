"""Stage 5 of the TiS assembly: the training set and its dataset card.

Writes the kept items as LLaMA-Factory sharegpt records in the released TiS layout
(``<image>QUESTION`` -> ``<think>\\nTHOUGHT\\n</think>\\nANSWER``, one image per record), the
``dataset_info.json`` entry, the images, and a dataset card: counts per source, category,
decision and request label, every filter's checked/dropped counts with reasons, length
statistics and the provenance of each model that wrote part of it.

Dataset card (``dataset_card.json``), top-level keys:

* ``name``, ``records``, ``layout`` — the set and how its records look;
* ``provenance`` — ``sources`` (name, format, release, items, kept, answer_source), ``captioner``,
  ``writer``, ``embedding_model``, ``policy``, ``seed``, ``notes``;
* ``composition`` — {value: records} maps of the kept records: ``sources``, ``categories``,
  ``decisions``, ``request_labels``; and ``filter_drops``: {filter: items it dropped};
* ``crosstab`` — [{source, category, decision, records}] of the kept records;
* ``filters`` — [{filter, checked, dropped, reasons: {reason: count}}] in application order;
* ``lengths`` — {thought_words, answer_words}: {mean, median, min, max} of the kept records.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from think_in_safety.tis.filters import filter_counts
from think_in_safety.training_sets.common import IMAGES_DIR, place_image, sharegpt_record, write_sharegpt_set

LAYOUT = ("LLaMA-Factory sharegpt, as the released TiS train_data.json: human '<image>QUESTION', "
          "gpt '<think>\\nTHOUGHT\\n</think>\\nANSWER', one image per record")


def _stats(values: pd.Series) -> dict:
    if values.empty:
        return {"mean": None, "median": None, "min": None, "max": None}
    return {"mean": round(float(values.mean()), 1), "median": float(values.median()),
            "min": int(values.min()), "max": int(values.max())}


def build_dataset(sources: pd.DataFrame, thoughts: pd.DataFrame, filtered: pd.DataFrame, image_dir: str | Path,
                  out_dir: str | Path, name: str) -> pd.DataFrame:
    """Write the set of the kept items into ``out_dir``; return the kept items (merged table)."""
    merged = sources.merge(thoughts, on="item_id").merge(filtered, on="item_id")
    kept = merged[merged["kept"]].reset_index(drop=True)
    if kept.empty:
        raise ValueError("every TiS item was filtered out: see the filter report (results/tis/filtered.parquet)")
    records = []
    for row in kept.itertuples(index=False):
        relative = f"{IMAGES_DIR}/{row.image}"
        place_image(Path(image_dir) / row.image, Path(out_dir) / relative)
        records.append(sharegpt_record(row.question, row.response, [relative]))
    write_sharegpt_set(out_dir, name, records)
    return merged


def dataset_card(merged: pd.DataFrame, filtered: pd.DataFrame, provenance: dict, name: str) -> dict:
    kept = merged[merged["kept"]]
    by_source = merged.groupby("source")["kept"].agg(["size", "sum"])
    for source in provenance.get("sources", []):
        if source["name"] in by_source.index:
            source.update(items=int(by_source.loc[source["name"], "size"]),
                          kept=int(by_source.loc[source["name"], "sum"]))
    crosstab = (kept.groupby(["source", "category", "decision"]).size().rename("records").reset_index()
                .to_dict("records"))
    return {
        "name": name,
        "records": int(len(kept)),
        "layout": LAYOUT,
        "provenance": provenance,
        "composition": {
            **{key: {str(k): int(v) for k, v in kept[column].value_counts().sort_index().items()}
               for key, column in (("sources", "source"), ("categories", "category"),
                                   ("decisions", "decision"), ("request_labels", "request_label"))},
            "filter_drops": {entry["filter"]: entry["dropped"] for entry in filter_counts(filtered)},
        },
        "crosstab": [{k: (int(v) if k == "records" else v) for k, v in row.items()} for row in crosstab],
        "filters": filter_counts(filtered),
        "lengths": {"thought_words": _stats(kept["thought_words"]), "answer_words": _stats(kept["answer_words"])},
    }


def card_markdown(card: dict) -> str:
    """The dataset card for people."""
    prov = card["provenance"]
    lines = [f"# Dataset card: {card['name']}", "",
             f"{card['records']} records. Layout: {card['layout']}.", "",
             "## Provenance", "",
             f"- captioner: `{prov.get('captioner', '')}`",
             f"- thought writer: `{prov.get('writer', '')}`",
             f"- near-duplicate embeddings: `{prov.get('embedding_model') or 'off'}`",
             f"- policy: `{prov.get('policy', '')}`; seed {prov.get('seed', '')}"]
    lines += [f"- note: {note}" for note in prov.get("notes", [])]
    lines += ["", "| source | format | answers | items | kept |", "|---|---|---|---|---|"]
    for source in prov.get("sources", []):
        lines.append(f"| {source['name']} | {source['format']} | {source.get('answer_source', '')} | "
                     f"{source.get('items', '')} | {source.get('kept', '')} |")
    for title, key in (("Records per category", "categories"), ("Records per decision", "decisions"),
                       ("Records per request label", "request_labels")):
        lines += ["", f"## {title}", "", "| value | records |", "|---|---|"]
        lines += [f"| {value} | {count} |" for value, count in card["composition"][key].items()]
    lines += ["", "## Filters (in order; an item is dropped by the first it fails)", "",
              "| filter | checked | dropped | reasons |", "|---|---|---|---|"]
    for entry in card["filters"]:
        reasons = "; ".join(f"{reason} ({count})" for reason, count in entry["reasons"].items())
        lines.append(f"| {entry['filter']} | {entry['checked']} | {entry['dropped']} | {reasons} |")
    lengths = card["lengths"]
    lines += ["", "## Lengths of kept records (words)", "", "| part | mean | median | min | max |",
              "|---|---|---|---|---|"]
    for part in ("thought_words", "answer_words"):
        s = lengths[part]
        lines.append(f"| {part.split('_')[0]} | {s['mean']} | {s['median']} | {s['min']} | {s['max']} |")
    return "\n".join(lines) + "\n"


def write_card(card: dict, json_path: str | Path, md_path: str | Path) -> None:
    Path(json_path).parent.mkdir(parents=True, exist_ok=True)
    Path(json_path).write_text(json.dumps(card, indent=2, ensure_ascii=False), encoding="utf-8")
    Path(md_path).write_text(card_markdown(card), encoding="utf-8")
