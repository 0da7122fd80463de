"""Drawn pictures for the demo data: stand-ins for photos (:func:`draw_scene`), noise images, and
the fonts the benchmarks' typographic renderers (``benchmarks/typography.py``) share with them.

The demo releases of the benchmarks and of the training sets draw their images here, and no
generative model is run: every drawing carries its caption and a label saying it is a demo
drawing. Drawings are deterministic in (seed, caption).
"""

from __future__ import annotations

import os
import random
import textwrap
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

# fonts: FigStep's FreeMonoBold, and Liberation Sans (Arial's metrics: MM-SafetyBench, captions)
FIGSTEP_FONT = "/usr/share/fonts/truetype/freefont/FreeMonoBold.ttf"
ARIAL_STANDIN_FONT = "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"

_FONT_PACKAGES = {FIGSTEP_FONT: "fonts-freefont-ttf", ARIAL_STANDIN_FONT: "fonts-liberation"}


@lru_cache(maxsize=32)
def load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """Load a TrueType font, or raise a ValueError naming the Debian package that provides it."""
    if not Path(path).is_file():
        package = _FONT_PACKAGES.get(path, "the package that provides it")
        raise ValueError(f"font {path} not found: install it (Debian: apt-get install {package}) "
                         "or pass font_path= to the renderer")
    return ImageFont.truetype(path, size)


def _any_font(size: int) -> ImageFont.ImageFont:
    """Liberation Sans when present, else Pillow's built-in font (demo drawings only)."""
    if Path(ARIAL_STANDIN_FONT).is_file():
        return load_font(ARIAL_STANDIN_FONT, size)
    return ImageFont.load_default(size)


# --------------------------------------------------------------------------------------------
# drawn stand-ins for photos
# --------------------------------------------------------------------------------------------
def _random_color(rng: random.Random, low: int = 40, high: int = 230) -> tuple[int, int, int]:
    return tuple(rng.randint(low, high) for _ in range(3))  # type: ignore[return-value]


def _draw_shapes(draw: ImageDraw.ImageDraw, size: tuple[int, int], rng: random.Random,
                 count: int) -> None:
    """Deterministic rectangles, ellipses and polygons in the upper part of the canvas."""
    width, height = size
    for _ in range(count):
        x0, y0 = rng.randint(0, width * 3 // 4), rng.randint(0, height // 2)
        x1 = min(width - 1, x0 + rng.randint(width // 10, width // 3))
        y1 = min(height * 3 // 4, y0 + rng.randint(height // 10, height // 3))
        kind = rng.choice(("rectangle", "ellipse", "polygon"))
        color = _random_color(rng)
        if kind == "rectangle":
            draw.rectangle((x0, y0, x1, y1), fill=color, outline=(0, 0, 0))
        elif kind == "ellipse":
            draw.ellipse((x0, y0, x1, y1), fill=color, outline=(0, 0, 0))
        else:
            draw.polygon([(x0, y1), ((x0 + x1) // 2, y0), (x1, y1)], fill=color, outline=(0, 0, 0))


def _draw_caption_box(draw: ImageDraw.ImageDraw, size: tuple[int, int], caption: str,
                      label: str, font_size: int) -> None:
    """A white box at the bottom with the wrapped caption and a small label in the corner."""
    width, height = size
    font = _any_font(font_size)
    small = _any_font(max(8, font_size * 2 // 3))
    chars = max(8, int(width / (font_size * 0.55)))
    lines = textwrap.wrap(caption, width=chars)[:4]
    box_top = height - (len(lines) + 1) * (font_size + 3) - 6
    draw.rectangle((0, box_top, width, height), fill=(255, 255, 255))
    draw.multiline_text((4, box_top + 3), "\n".join(lines), fill=(0, 0, 0), font=font, spacing=3)
    draw.text((4, height - font_size - 4), label, fill=(110, 110, 110), font=small)


def draw_scene(caption: str, seed: int, size: tuple[int, int] = (224, 224),
               label: str = "demo drawing", background: tuple[int, int, int] | None = None,
               shapes: int = 5) -> Image.Image:
    """A small drawn picture standing in for a photo: random shapes + the scene's caption + label."""
    rng = random.Random(f"{seed}:{caption}")
    image = Image.new("RGB", size, background or _random_color(rng, 150, 250))
    draw = ImageDraw.Draw(image)
    _draw_shapes(draw, size, rng, shapes)
    _draw_caption_box(draw, size, caption, label, font_size=max(10, size[0] // 18))
    return image


def noise_image(seed: int, size: tuple[int, int] = (224, 224)) -> Image.Image:
    """Deterministic RGB noise (JailBreakV's LLM-transfer attacks pair prompts with noise images)."""
    data = random.Random(seed).randbytes(size[0] * size[1] * 3)
    return Image.frombytes("RGB", size, data)


def save_image(image: Image.Image, path: str | os.PathLike) -> Path:
    """Save with the format implied by the suffix (JPEG quality 90); create parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        image.convert("RGB").save(path, quality=90)
    else:
        image.save(path)
    return path
