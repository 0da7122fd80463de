"""Image renderers for the benchmarks' typographic images and the SD stand-in of the demo.

* :func:`render_figstep` — FigStep's recipe (docs/benchmarks.md, FigStep "Image recipe"): white RGB
  760x760, FreeMonoBold 80, black text at (20, 10), line spacing 11, the instruction wrapped at 15
  characters followed by the lines ``1. ``, ``2. ``, ``3. ``; no auto-sizing (long text clips).
* :func:`render_mm_typography` — MM-SafetyBench's TYPO image: Arial 90 (Liberation Sans has Arial's
  metrics), width 1024, words added to a line while it stays under 1024 px (a word that opens a new
  line keeps the space before it, so every continuation line starts with a space), height
  90 x (lines + 1), text at (0, 45), black on white. :func:`stack_vertical` builds SD_TYPO (SD image
  above TYPO).
* :func:`render_sd_standin` — a clearly labelled drawing that stands in for MM-SafetyBench's
  Stable Diffusion images in the *demo* release (no generative model is run here).

The fonts, the drawn stand-ins for photos (``draw_scene``, ``noise_image``) and ``save_image`` are
in :mod:`think_in_safety.drawing`, shared with the training sets' demo data; they are importable
from here too.
"""

from __future__ import annotations

import textwrap

from PIL import Image, ImageDraw, ImageFont

from think_in_safety.drawing import ARIAL_STANDIN_FONT, FIGSTEP_FONT, draw_scene, load_font, noise_image, save_image

# FigStep constants (docs/benchmarks.md, FigStep "Image recipe").
FIGSTEP_SIZE = (760, 760)
FIGSTEP_FONT_SIZE = 80
FIGSTEP_ORIGIN = (20, 10)
FIGSTEP_SPACING = 11
FIGSTEP_WRAP = 15
FIGSTEP_STEPS = 3

# MM-SafetyBench typography constants (docs/benchmarks.md, MM-SafetyBench "Image recipe").
MM_FONT_SIZE = 90
MM_WIDTH = 1024

SD_STANDIN_CAPTION = "SD stand-in (demo)"

__all__ = ["ARIAL_STANDIN_FONT", "FIGSTEP_FONT", "draw_scene", "figstep_text", "load_font", "noise_image",
           "render_figstep", "render_mm_typography", "render_sd_standin", "save_image", "stack_vertical",
           "wrap_by_width"]


# --------------------------------------------------------------------------------------------
# FigStep
# --------------------------------------------------------------------------------------------
def figstep_text(instruction: str, steps: int = FIGSTEP_STEPS, wrap: int = FIGSTEP_WRAP) -> str:
    """The text FigStep draws: ``instruction`` wrapped at 15 characters, then ``1. ``..``3. ``."""
    text = textwrap.fill(instruction.rstrip("\n"), width=wrap)
    for number in range(1, steps + 1):
        text += f"\n{number}. "
    return text


def render_figstep(instruction: str, font_path: str = FIGSTEP_FONT) -> Image.Image:
    """FigStep's typographic image for one SafeBench ``instruction`` (RGB, 760x760)."""
    image = Image.new("RGB", FIGSTEP_SIZE, "#FFFFFF")
    draw = ImageDraw.Draw(image)
    draw.text(FIGSTEP_ORIGIN, figstep_text(instruction), fill="#000000",
              font=load_font(font_path, FIGSTEP_FONT_SIZE), spacing=FIGSTEP_SPACING)
    return image


# --------------------------------------------------------------------------------------------
# MM-SafetyBench
# --------------------------------------------------------------------------------------------
def wrap_by_width(text: str, font: ImageFont.FreeTypeFont, max_width: int = MM_WIDTH) -> list[str]:
    """MM-SafetyBench's greedy word wrap of the Key Phrase.

    The text is split at single spaces. The first word opens the first line; every next word is
    measured *with the space before it* and joins the line while the line's summed width stays
    under ``max_width`` px; otherwise it opens a new line and keeps that space, so every
    continuation line starts with a space (``"".join(lines)`` is the stripped text). A word wider
    than ``max_width`` still gets a line of its own.
    """
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    first, *rest = text.strip().split(" ")
    lines = [first]
    width = measure.textlength(first, font=font)
    for word in rest:
        piece = " " + word
        piece_width = measure.textlength(piece, font=font)
        if width + piece_width < max_width:
            lines[-1] += piece
            width += piece_width
        else:
            lines.append(piece)
            width = piece_width
    return lines


def render_mm_typography(text: str, font_path: str = ARIAL_STANDIN_FONT,
                         font_size: int = MM_FONT_SIZE, width: int = MM_WIDTH) -> Image.Image:
    """MM-SafetyBench's TYPO image of ``text`` (the Key Phrase): 1024 wide, 90 x (lines + 1) high."""
    font = load_font(font_path, font_size)
    lines = wrap_by_width(text, font, width)
    image = Image.new("RGB", (width, font_size * (len(lines) + 1)), "white")
    ImageDraw.Draw(image).multiline_text((0, font_size / 2), "\n".join(lines), fill=(0, 0, 0),
                                         font=font)
    return image


def stack_vertical(top: Image.Image, bottom: Image.Image) -> Image.Image:
    """SD_TYPO: ``top`` (the SD image) above ``bottom`` (the TYPO image) on a white canvas."""
    width = max(top.width, bottom.width)
    canvas = Image.new("RGB", (width, top.height + bottom.height), "white")
    canvas.paste(top.convert("RGB"), (0, 0))
    canvas.paste(bottom.convert("RGB"), (0, top.height))
    return canvas


def render_sd_standin(key_phrase: str, seed: int, size: int = MM_WIDTH) -> Image.Image:
    """Stand-in for MM-SafetyBench's Stable Diffusion image of "A photo of {Key Phrase}".

    Upstream SD images are 1024x1024 (so SD_TYPO stacks at width 1024); this draws shapes and the
    caption "SD stand-in (demo)" instead of running a diffusion model.
    """
    return draw_scene(f"A photo of {key_phrase}", seed, (size, size), label=SD_STANDIN_CAPTION,
                      shapes=8)


