"""VLGuard (Zong et al., ICML 2024): safety fine-tuning data, one record per image.

Upstream (docs/benchmarks.md, "Training sets"; HF ``ys-zong/VLGuard``, gated)::

    train.json   [{"id", "image": "<folder>/<file>", "safe": bool,
                   "harmful_category", "harmful_subcategory",        (unsafe images only)
                   "instr-resp": [{"instruction" | "safe_instruction" | "unsafe_instruction": ...,
                                   "response": ...}, ...]}, ...]
    train.zip    the images, at the ``image`` paths

An unsafe image has one ``instruction`` (answered with a refusal); a safe image has a
``safe_instruction`` (answered helpfully) and an ``unsafe_instruction`` (refused). The converter
writes one sharegpt record per instruction/response pair (2,977 pairs from 2,000 images in the
real train split), unlike VLGuard's own LLaVA converter, which chains both pairs of a safe
image into one two-turn conversation.
"""

from __future__ import annotations

from pathlib import Path

from think_in_safety import download
from think_in_safety.training_sets.common import (
    IMAGES_DIR,
    ConversionReport,
    place_image,
    read_json_list,
    safe_relative,
    sharegpt_record,
    write_sharegpt_set,
)

NAME = "vlguard"
DEFAULT_SOURCE = "https://huggingface.co/datasets/ys-zong/VLGuard/resolve/main"
TRAIN_FILE = "train.json"
IMAGES_ZIP = "train.zip"
INSTRUCTION_KEYS = ("instruction", "safe_instruction", "unsafe_instruction")


def read_train(release_dir: Path) -> list[dict]:
    path = Path(release_dir) / TRAIN_FILE
    records = read_json_list(path, "VLGuard's train.json (a list of image records with 'instr-resp')")
    for position, record in enumerate(records):
        for key in ("id", "image", "safe", "instr-resp"):
            if key not in record:
                raise ValueError(f"{path}: record {position} has no {key!r} key (VLGuard train.json format)")
    return records


def pairs(release_dir: Path) -> list[dict]:
    """Every instruction/response pair, in file order, with its image record's fields."""
    rows = []
    for position, record in enumerate(read_train(release_dir)):
        for pair_index, pair in enumerate(record["instr-resp"]):
            keys = [key for key in INSTRUCTION_KEYS if key in pair]
            rows.append({
                "record": position,
                "pair": pair_index,
                "id": str(record["id"]),
                "image": str(record["image"]),
                "image_safe": bool(record["safe"]),
                "kind": keys[0] if keys else "",
                "question": str(pair[keys[0]]) if keys else "",
                "response": str(pair.get("response", "")),
                "harmful_category": str(record.get("harmful_category") or ""),
                "harmful_subcategory": str(record.get("harmful_subcategory") or ""),
            })
    return rows


def fetch(source: str, dest: Path, options: dict) -> None:
    """train.json, then train.zip (``images_url`` overrides where the zip comes from)."""
    download.fetch_file(source, TRAIN_FILE, dest)
    records = read_train(dest)
    zip_source = options.get("images_url") or download.join_url(source, IMAGES_ZIP)
    download.fetch_zip(zip_source, dest, marker=records[0]["image"] if records else None)


def convert(release_dir: Path, out_dir: Path, name: str, options: dict) -> ConversionReport:
    """One record per pair; a pair without instruction/response or image is dropped with its reason."""
    report = ConversionReport(name, NAME)
    records = []
    for row in pairs(release_dir)[: options.get("limit") or None]:
        report.read += 1
        index = f"{row['record']}.{row['pair']}"
        if not row["kind"] or not row["question"].strip() or not row["response"].strip():
            report.drop(index, "empty instruction or response")
            continue
        image = safe_relative(row["image"])
        source = Path(release_dir) / image
        if not source.is_file():
            report.drop(index, f"image missing: {row['image']}")
            continue
        place_image(source, Path(out_dir) / IMAGES_DIR / image)
        records.append(sharegpt_record(row["question"], row["response"], [f"{IMAGES_DIR}/{image}"]))
    write_sharegpt_set(out_dir, name, records, report)
    return report


def source_items(release_dir: Path, options: dict, image_dir: Path) -> list[dict]:
    """TiS source items: every pair with its request label (safe_instruction -> safe) and labels;
    images are linked below ``image_dir`` at their release path."""
    items = []
    for row in pairs(release_dir)[: options.get("limit") or None]:
        if not row["kind"] or not row["question"].strip():
            continue
        relative = safe_relative(row["image"])
        source = Path(release_dir) / relative
        if not source.is_file():
            continue
        place_image(source, Path(image_dir) / relative)
        items.append({
            "source_index": f"{row['record']}.{row['pair']}",
            "image": relative,
            "image_name": relative,
            "question": row["question"],
            "reference_answer": row["response"],
            "request_label": "safe" if row["kind"] == "safe_instruction" else "unsafe",
            "image_safe": row["image_safe"],
            "source_labels": [row["harmful_subcategory"], row["harmful_category"]],
        })
    return items
