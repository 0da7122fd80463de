"""The training sets the paper compares (VLGuard, MIS, SPA-VL, the released TiS), behind one interface.

    from think_in_safety.training_sets import get_format
    fmt = get_format("vlguard")
    fmt.fetch(source, release_dir, options)            # upstream release -> release_dir (its layout)
    fmt.write_demo(release_dir, seed, options)         # a small demo release, same layout
    report = fmt.convert(release_dir, out_dir, name, options)   # -> LLaMA-Factory sharegpt set

Every converter writes the layout of :mod:`think_in_safety.training_sets.common`; every converted
set is then checked with LLaMA-Factory's own loader (:mod:`think_in_safety.training_sets.validate`).
VLGuard and SPA-VL also give the *source items* of the TiS assembly (``source_items``), as the
released TiS was built from them (docs/study.md).

The registry (:data:`FORMATS`) is plain data: each format names the module of its converter
(``fetch``, ``convert``, ``source_items``, ``DEFAULT_SOURCE``) and its demo writer
(:mod:`think_in_safety.training_demos`), imported when an operation runs, so the config checks
read it while Snakemake parses the workflow.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from think_in_safety.training_sets.common import ConversionReport

DEMO_WRITERS = "think_in_safety.training_demos"


@dataclass(frozen=True)
class TrainingSetFormat:
    """One upstream format: identity, where its converter and demo writer are, and the operations
    the rules call."""

    name: str
    description: str
    #: the converter's module: fetch(source, dest, options), convert(release_dir, out_dir, name,
    #: options), source_items(release_dir, options, image_dir) when it gives TiS sources, DEFAULT_SOURCE
    module: str
    #: the demo writer, a function of :data:`DEMO_WRITERS`: (dest, seed, options)
    demo_writer: str
    gives_source_items: bool = False

    def _module(self) -> ModuleType:
        return importlib.import_module(self.module)

    @property
    def default_source(self) -> str:
        return self._module().DEFAULT_SOURCE

    def fetch(self, source: str | None, dest: str | os.PathLike, options: dict | None = None) -> None:
        self._module().fetch(source or self.default_source, Path(dest), dict(options or {}))

    def write_demo(self, dest: str | os.PathLike, seed: int = 0, options: dict | None = None) -> None:
        Path(dest).mkdir(parents=True, exist_ok=True)
        writer = getattr(importlib.import_module(DEMO_WRITERS), self.demo_writer)
        writer(Path(dest), int(seed), dict(options or {}))

    def convert(self, release_dir: str | os.PathLike, out_dir: str | os.PathLike, name: str,
                options: dict | None = None) -> ConversionReport:
        return self._module().convert(Path(release_dir), Path(out_dir), name, dict(options or {}))

    def source_items(self, release_dir: str | os.PathLike, options: dict | None,
                     image_dir: str | os.PathLike) -> list[dict]:
        if not self.gives_source_items:
            givers = [name for name, fmt in FORMATS.items() if fmt.gives_source_items]
            raise ValueError(f"format {self.name!r} gives no TiS source items (only {' and '.join(givers)} do)")
        return self._module().source_items(Path(release_dir), dict(options or {}), Path(image_dir))


FORMATS: dict[str, TrainingSetFormat] = {
    fmt.name: fmt for fmt in (
        TrainingSetFormat("vlguard", "VLGuard train.json: one record per instruction/response pair",
                          "think_in_safety.training_sets.vlguard", "write_vlguard", gives_source_items=True),
        TrainingSetFormat("mis", "MIS mis_train.json: multi-image samples, one <image> per image",
                          "think_in_safety.training_sets.mis", "write_mis"),
        TrainingSetFormat("spa_vl", "SPA-VL parquet: question + chosen answer",
                          "think_in_safety.training_sets.spa_vl", "write_spa_vl", gives_source_items=True),
        TrainingSetFormat("tis", "the released TiS train_data.json (sharegpt with <think> thoughts)",
                          "think_in_safety.training_sets.tis_release", "write_tis"),
    )
}

#: the format of the set the TiS assembly rules build (no converter: workflow/rules/tis.smk)
ASSEMBLED = "tis_assembly"


def get_format(name: str) -> TrainingSetFormat:
    """The format registered as ``name``; a ValueError lists the valid names otherwise."""
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown training-set format {name!r}; valid: {sorted(FORMATS)}") from None


__all__ = ["ASSEMBLED", "FORMATS", "TrainingSetFormat", "get_format"]
