"""What every training-set converter shares: the LLaMA-Factory sharegpt layout it writes.

A converted set is a directory LLaMA-Factory reads as it is (``dataset_dir``)::

    data.json            [{"conversations": [{"from": "human", "value": "<image>..."},
                                             {"from": "gpt", "value": "..."}],
                           "images": ["images/..."]}, ...]
    dataset_info.json    {"<name>": {"file_name": "data.json", "formatting": "sharegpt", ...}}
    images/...           the images the records name (hard links into the release where possible)
    conversion.json      what was read, written and dropped (with the reason of every drop)

This is the layout of the released TiS ``train_data.json`` (docs/study.md, "The TiS dataset"): one
``<image>`` placeholder per image, role tags ``human``/``gpt``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IMAGE_TOKEN = "<image>"
DATA_FILE = "data.json"
INFO_FILE = "dataset_info.json"
REPORT_FILE = "conversion.json"
IMAGES_DIR = "images"


def sharegpt_info(name: str, file_name: str = DATA_FILE) -> dict:
    """The ``dataset_info.json`` entry of a sharegpt file with TiS's role and content tags."""
    return {
        name: {
            "file_name": file_name,
            "formatting": "sharegpt",
            "columns": {"messages": "conversations", "images": "images"},
            "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt"},
        }
    }


def sharegpt_record(question: str, answer: str, images: list[str]) -> dict:
    """One single-turn record: one ``<image>`` per image before the question (the TiS layout)."""
    question = question.strip()
    placeholders = "".join(IMAGE_TOKEN for _ in images)
    return {
        "conversations": [
            {"from": "human", "value": f"{placeholders}{question}"},
            {"from": "gpt", "value": answer.strip()},
        ],
        "images": list(images),
    }


def place_image(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Put ``source`` at ``target``: a hard link when both are on one file system, else a copy."""
    source, target = Path(source), Path(target)
    if not source.is_file():
        raise FileNotFoundError(f"image {source} does not exist")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def safe_relative(path: str) -> str:
    """``path`` as a relative path inside a set (no leading '/', no '..'), '/'-separated."""
    parts = [part for part in Path(str(path).replace("\\", "/")).parts if part not in ("", ".", "/")]
    if ".." in parts:
        raise ValueError(f"image path {path!r} leaves its folder ('..')")
    return "/".join(parts)


@dataclass
class ConversionReport:
    """Counts of one conversion: records read, written, and every dropped record with its reason."""

    training_set: str
    source_format: str
    read: int = 0
    written: int = 0
    dropped: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def drop(self, index: Any, reason: str) -> None:
        self.dropped.append({"index": index, "reason": reason})

    def as_dict(self) -> dict:
        reasons = Counter(entry["reason"].split(":")[0] for entry in self.dropped)
        return {
            "training_set": self.training_set,
            "source_format": self.source_format,
            "records_read": self.read,
            "records_written": self.written,
            "records_dropped": len(self.dropped),
            "dropped_by_reason": dict(sorted(reasons.items())),
            "dropped": self.dropped,
            "notes": self.notes,
        }


def write_sharegpt_set(out_dir: str | os.PathLike, name: str, records: list[dict],
                       report: ConversionReport | None = None) -> Path:
    """Write ``data.json``, ``dataset_info.json`` (and ``conversion.json``) of a set into ``out_dir``.

    The images the records name must already be below ``out_dir``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    missing = [image for record in records for image in record["images"] if not (out_dir / image).is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} images named by the records are not in {out_dir}, e.g. {missing[:3]}")
    (out_dir / DATA_FILE).write_text(json.dumps(records, indent=1, ensure_ascii=False), encoding="utf-8")
    (out_dir / INFO_FILE).write_text(json.dumps(sharegpt_info(name), indent=2), encoding="utf-8")
    if report is not None:
        report.written = len(records)
        (out_dir / REPORT_FILE).write_text(json.dumps(report.as_dict(), indent=2, ensure_ascii=False),
                                           encoding="utf-8")
    return out_dir


def read_json_list(path: Path, what: str) -> list:
    """A JSON file that must hold a list; errors name the file and what it should be."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: expected {what}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}): expected {what}") from None
    if not isinstance(data, list):
        raise ValueError(f"{path} holds a {type(data).__name__}, expected {what} (a JSON list)")
    return data


def count_image_tokens(conversations: list[dict]) -> int:
    return sum(str(turn.get("value", "")).count(IMAGE_TOKEN) for turn in conversations)


DEMO_CAPTIONS_FILE = "demo_captions.json"


def write_demo_captions(dest: str | os.PathLike, captions: dict[str, str]) -> None:
    """Demo releases only: the scene each drawn image shows, keyed by its path in the release.

    Not part of any upstream format; the ``precomputed`` captioner of the TiS assembly reads it
    (the demo has no captioning model: its images are drawings of these scene texts).
    """
    (Path(dest) / DEMO_CAPTIONS_FILE).write_text(json.dumps(captions, indent=1, ensure_ascii=False),
                                                 encoding="utf-8")
