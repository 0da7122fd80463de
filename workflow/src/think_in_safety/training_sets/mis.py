"""MIS (Ding et al., "Rethinking Bottlenecks in Safety Fine-Tuning of VLMs"): multi-image safety data.

Upstream (docs/benchmarks.md; HF ``Tuwhy/MIS_Train``): ``mis_train.json``, ~3.9k sharegpt samples
whose answers carry a safety chain of thought, several images per sample, and the images in a
separate archive (``images.zip``, 10.6 GB). Field list [3rd-party, not read in the official
repository]: ``conversations`` ([{"from", "value"}]), ``image`` (list of paths relative to the
release; ``images`` accepted too), ``category``, ``sub_category``.

The converter keeps the conversation and writes exactly one ``<image>`` per image: a sample whose
human turns carry no placeholder gets one per image before its first question; a sample whose
placeholder count differs from its image count is dropped (LLaMA-Factory would reject it).
"""

from __future__ import annotations

from pathlib import Path

from think_in_safety import download
from think_in_safety.training_sets.common import (
    IMAGE_TOKEN,
    IMAGES_DIR,
    ConversionReport,
    count_image_tokens,
    place_image,
    read_json_list,
    safe_relative,
    write_sharegpt_set,
)

NAME = "mis"
DEFAULT_SOURCE = "https://huggingface.co/datasets/Tuwhy/MIS_Train/resolve/main"
TRAIN_FILE = "mis_train.json"
IMAGES_ZIP = "images.zip"


def read_train(release_dir: Path) -> list[dict]:
    return read_json_list(Path(release_dir) / TRAIN_FILE, "MIS's mis_train.json (a list of sharegpt samples)")


def sample_images(sample: dict) -> list[str]:
    images = sample.get("image", sample.get("images", []))
    if isinstance(images, str):
        images = [images]
    return [str(image) for image in images or []]


def fetch(source: str, dest: Path, options: dict) -> None:
    """mis_train.json, then the image archive (option ``images_url``, default ``images.zip``)."""
    download.fetch_file(source, TRAIN_FILE, dest)
    samples = read_train(dest)
    first = next((images[0] for images in map(sample_images, samples) if images), None)
    image_root = options.get("image_root", "")
    marker = f"{image_root}/{first}".strip("/") if first else None
    download.fetch_zip(options.get("images_url") or download.join_url(source, IMAGES_ZIP), dest, marker=marker)


def convert(release_dir: Path, out_dir: Path, name: str, options: dict) -> ConversionReport:
    """One record per sample, one ``<image>`` per image; mismatches and missing images dropped."""
    report = ConversionReport(name, NAME)
    image_root = Path(release_dir) / options.get("image_root", "")
    records, added = [], 0
    for index, sample in enumerate(read_train(release_dir)[: options.get("limit") or None]):
        report.read += 1
        turns = sample.get("conversations")
        images = [safe_relative(image) for image in sample_images(sample)]
        if not isinstance(turns, list) or len(turns) < 2:
            report.drop(index, "no conversation")
            continue
        if not images:
            report.drop(index, "no images")
            continue
        turns = [{"from": str(t.get("from", "")), "value": str(t.get("value", ""))} for t in turns]
        placeholders = count_image_tokens(turns)
        if placeholders == 0:
            turns[0]["value"] = IMAGE_TOKEN * len(images) + turns[0]["value"]
            added += 1
        elif placeholders != len(images):
            report.drop(index,
                        f"image placeholders do not match images: {placeholders} <image> for {len(images)} images")
            continue
        missing = [image for image in images if not (image_root / image).is_file()]
        if missing:
            report.drop(index, f"image missing: {missing[0]}")
            continue
        for image in images:
            place_image(image_root / image, Path(out_dir) / IMAGES_DIR / image)
        records.append({"conversations": turns, "images": [f"{IMAGES_DIR}/{image}" for image in images]})
    if added:
        report.notes.append(f"{added} samples had no <image> placeholder and got one per image before the first "
                            "question")
    write_sharegpt_set(out_dir, name, records, report)
    return report
