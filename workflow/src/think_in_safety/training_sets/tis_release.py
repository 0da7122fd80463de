"""The released TiS ``train_data.json`` (Lou et al.): already LLaMA-Factory sharegpt.

Upstream (docs/study.md, "The TiS dataset"): a JSON list of ~4,400 records
``{"conversations": [{"from": "human", "value": "<image>Q"}, {"from": "gpt", "value":
"<think>\\nT\\n</think>\\nA"}], "images": ["images/<source>/<file>"]}`` from
``github.com/xinyuelou/Think-in-Safety``; the images ship apart (``images.zip`` on the Hugging
Face dataset ``Holly301/Think-in-Safety``), at the ``images`` paths relative to the release.

The converter checks every record the way LLaMA-Factory will read it (two turns, human then gpt,
one ``<image>`` per image, the image present) and copies the valid ones with their images; the
others are dropped with the reason. Stray formatting inside answers is kept: it is the data.
"""

from __future__ import annotations

from pathlib import Path

from think_in_safety import download
from think_in_safety.training_sets.common import (
    IMAGES_DIR,
    ConversionReport,
    count_image_tokens,
    place_image,
    read_json_list,
    safe_relative,
    write_sharegpt_set,
)

NAME = "tis"
DEFAULT_SOURCE = "https://raw.githubusercontent.com/xinyuelou/Think-in-Safety/main"
DEFAULT_IMAGES_URL = "https://huggingface.co/datasets/Holly301/Think-in-Safety/resolve/main/images.zip"
TRAIN_FILE = "train_data.json"


def read_train(release_dir: Path) -> list:
    return read_json_list(Path(release_dir) / TRAIN_FILE, "TiS's train_data.json (a list of sharegpt records)")


def check_record(record, release_dir: Path) -> str | None:
    """Why LLaMA-Factory would reject ``record`` (None when it is fine)."""
    if not isinstance(record, dict):
        return "not a JSON object"
    turns, images = record.get("conversations"), record.get("images", [])
    if not isinstance(turns, list) or len(turns) != 2:
        return "conversation is not one human turn and one gpt turn"
    if [t.get("from") for t in turns if isinstance(t, dict)] != ["human", "gpt"]:
        return "roles are not human then gpt"
    if not all(str(t.get("value", "")).strip() for t in turns):
        return "empty turn"
    if not isinstance(images, list):
        return "images is not a list"
    if count_image_tokens(turns) != len(images):
        return f"image placeholders do not match images: {count_image_tokens(turns)} <image> for {len(images)} images"
    for image in images:
        if not (Path(release_dir) / safe_relative(image)).is_file():
            return f"image missing: {image}"
    return None


def fetch(source: str, dest: Path, options: dict) -> None:
    """train_data.json, then the images archive (option ``images_url``)."""
    download.fetch_file(source, TRAIN_FILE, dest)
    records = read_train(dest)
    first = next((r["images"][0] for r in records if isinstance(r, dict) and r.get("images")), None)
    download.fetch_zip(options.get("images_url") or DEFAULT_IMAGES_URL, dest, marker=first)


def convert(release_dir: Path, out_dir: Path, name: str, options: dict) -> ConversionReport:
    report = ConversionReport(name, NAME)
    records = []
    for index, record in enumerate(read_train(release_dir)[: options.get("limit") or None]):
        report.read += 1
        problem = check_record(record, release_dir)
        if problem:
            report.drop(index, problem)
            continue
        images = []
        for image in record["images"]:
            relative = safe_relative(image)
            inside = relative[len(IMAGES_DIR) + 1:] if relative.startswith(IMAGES_DIR + "/") else relative
            place_image(Path(release_dir) / relative, Path(out_dir) / IMAGES_DIR / inside)
            images.append(f"{IMAGES_DIR}/{inside}")
        records.append({"conversations": [{"from": t["from"], "value": t["value"]} for t in record["conversations"]],
                        "images": images})
    write_sharegpt_set(out_dir, name, records, report)
    return report
