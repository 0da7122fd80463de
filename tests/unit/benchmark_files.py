"""Small real files for the benchmark loader tests: images Pillow decodes, in any folder."""

from __future__ import annotations

from pathlib import Path

from PIL import Image


def write_image(path: Path, color: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (8, 8)) -> Path:
    """A small image of one colour, in the format its suffix names (PNG, JPEG, ...)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return path
