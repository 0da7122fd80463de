"""SPA-VL (Zhang et al., CVPR 2025): safety preference pairs; SFT uses the ``chosen`` answer.

Upstream (docs/benchmarks.md; HF ``sqrti/SPA-VL``, CC-BY-4.0, parquet)::

    data/train-*.parquet             image {bytes, path}, question, chosen, rejected, image_name
    validation/validation-*.parquet  image, question, chosen, rejected, class1, class2, class3

The image column is the Hugging Face ``Image`` feature stored as a struct of the encoded
``bytes`` and the original ``path``. The converter writes one record per row: the image, the
question, and the ``chosen`` answer. For the TiS assembly every SPA-VL row is a harmful request
(SPA-VL draws its questions from 6 harm domains, 13 categories, 53 subcategories; the released TiS
took SPA-VL's harmful questions and wrote new refusals / safe completions: docs/study.md).
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow.parquet as pq
import requests

from think_in_safety import download
from think_in_safety.training_sets.common import (
    IMAGES_DIR,
    ConversionReport,
    safe_relative,
    sharegpt_record,
    write_sharegpt_set,
)

NAME = "spa_vl"
DEFAULT_SOURCE = "https://huggingface.co/datasets/sqrti/SPA-VL/resolve/main"
SPLIT_FOLDERS = {"train": "data", "validation": "validation"}
SPLIT_PATTERNS = {"train": "train-*.parquet", "validation": "validation-*.parquet"}
REQUIRED_COLUMNS = ("image", "question", "chosen")
_HF_RESOLVE = re.compile(r"^https://huggingface\.co/datasets/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/?$")


def _split(options: dict) -> str:
    split = options.get("split", "train")
    if split not in SPLIT_FOLDERS:
        raise ValueError(f"SPA-VL option split must be one of {list(SPLIT_FOLDERS)}, not {split!r}")
    return split


def parquet_files(release_dir: Path, options: dict) -> list[Path]:
    split = _split(options)
    files = sorted((Path(release_dir) / SPLIT_FOLDERS[split]).glob(SPLIT_PATTERNS[split]))
    if not files:
        raise FileNotFoundError(
            f"no SPA-VL {split} parquet files in {Path(release_dir) / SPLIT_FOLDERS[split]} "
            f"(expected {SPLIT_PATTERNS[split]}, the Hugging Face layout of sqrti/SPA-VL)")
    return files


def read_rows(release_dir: Path, options: dict) -> list[dict]:
    """All rows of the split, in file order, with the required columns checked."""
    rows = []
    for path in parquet_files(release_dir, options):
        table = pq.read_table(path)
        missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
        if missing:
            raise ValueError(f"{path} lacks columns {missing}; SPA-VL rows have {list(REQUIRED_COLUMNS)} and more")
        rows.extend(table.to_pylist())
    limit = options.get("limit")
    return rows[:limit] if limit else rows


def image_bytes(value) -> bytes | None:
    """The encoded image of a Hugging Face Image cell (struct with bytes/path, or raw bytes)."""
    if isinstance(value, dict):
        return value.get("bytes")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return None


def image_relpath(row: dict, index: int) -> str:
    """Where a row's image is written: its ``image_name`` (SPA-VL's class path) or a row number."""
    name = str(row.get("image_name") or "")
    if not name and isinstance(row.get("image"), dict):
        name = str(row["image"].get("path") or "")
    return safe_relative(name) if name else f"spa_vl/{index}.jpg"


def row_labels(row: dict) -> list[str]:
    """class3, class2, class1 where given; else the folders of ``image_name`` (deepest first)."""
    labels = [str(row.get(key) or "") for key in ("class3", "class2", "class1")]
    if any(labels):
        return labels
    parts = str(row.get("image_name") or "").split("/")[:-1]
    return list(reversed(parts))


def _hf_files(source: str, folder: str, pattern: str) -> list[str]:
    """The parquet files of ``folder`` in a Hugging Face dataset repository (its tree API)."""
    match = _HF_RESOLVE.match(source)
    if not match:
        raise ValueError(f"cannot list SPA-VL files at {source}: give them with the option 'files'")
    url = f"https://huggingface.co/api/datasets/{match['repo']}/tree/{match['rev']}/{folder}"
    response = requests.get(url, headers=download.auth_headers(url), timeout=60)
    response.raise_for_status()
    regex = re.compile(pattern.replace(".", r"\.").replace("*", ".*") + "$")
    return sorted(entry["path"] for entry in response.json() if regex.search(entry["path"]))


def fetch(source: str, dest: Path, options: dict) -> None:
    """The split's parquet files (option ``files``, else listed from the Hugging Face tree)."""
    split = _split(options)
    files = options.get("files") or _hf_files(source, SPLIT_FOLDERS[split], SPLIT_PATTERNS[split])
    download.fetch_files(source, files, dest)


def convert(release_dir: Path, out_dir: Path, name: str, options: dict) -> ConversionReport:
    """One record per row: image + question -> chosen. Rows without them are dropped with the reason."""
    report = ConversionReport(name, NAME)
    records = []
    for index, row in enumerate(read_rows(release_dir, options)):
        report.read += 1
        data = image_bytes(row.get("image"))
        if not data:
            report.drop(index, "no image bytes")
            continue
        if not str(row.get("question") or "").strip() or not str(row.get("chosen") or "").strip():
            report.drop(index, "empty question or chosen answer")
            continue
        relative = image_relpath(row, index)
        target = Path(out_dir) / IMAGES_DIR / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        records.append(sharegpt_record(row["question"], row["chosen"], [f"{IMAGES_DIR}/{relative}"]))
    write_sharegpt_set(out_dir, name, records, report)
    return report


def source_items(release_dir: Path, options: dict, image_dir: Path) -> list[dict]:
    """TiS source items: every row is a harmful request; images are written below ``image_dir``."""
    items = []
    for index, row in enumerate(read_rows(release_dir, options)):
        data = image_bytes(row.get("image"))
        if not data or not str(row.get("question") or "").strip():
            continue
        relative = image_relpath(row, index)
        path = Path(image_dir) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        items.append({
            "source_index": str(index),
            "image": relative,
            "image_name": relative,
            "question": str(row["question"]),
            "reference_answer": str(row.get("chosen") or ""),
            "request_label": "unsafe",
            "image_safe": None,
            "source_labels": row_labels(row),
        })
    return items
