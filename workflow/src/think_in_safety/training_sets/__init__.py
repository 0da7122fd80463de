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
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from think_in_safety.training_sets import mis, spa_vl, tis_release, vlguard
from think_in_safety.training_sets.common import ConversionReport


@dataclass(frozen=True)
class TrainingSetFormat:
    """One upstream format: identity, default source and the operations the rules call."""

    name: str
    description: str
    default_source: str
    _fetch: Callable[[str, Path, dict], None] = field(repr=False)
    _write_demo: Callable[[Path, int, dict], None] = field(repr=False)
    _convert: Callable[[Path, Path, str, dict], ConversionReport] = field(repr=False)
    _source_items: Callable[[Path, dict, Path], list[dict]] | None = field(default=None, repr=False)

    def fetch(self, source: str | None, dest: str | os.PathLike, options: dict | None = None) -> None:
        self._fetch(source or self.default_source, Path(dest), dict(options or {}))

    def write_demo(self, dest: str | os.PathLike, seed: int = 0, options: dict | None = None) -> None:
        Path(dest).mkdir(parents=True, exist_ok=True)
        self._write_demo(Path(dest), int(seed), dict(options or {}))

    def convert(self, release_dir: str | os.PathLike, out_dir: str | os.PathLike, name: str,
                options: dict | None = None) -> ConversionReport:
        return self._convert(Path(release_dir), Path(out_dir), name, dict(options or {}))

    @property
    def gives_source_items(self) -> bool:
        return self._source_items is not None

    def source_items(self, release_dir: str | os.PathLike, options: dict | None,
                     image_dir: str | os.PathLike) -> list[dict]:
        if self._source_items is None:
            raise ValueError(f"format {self.name!r} gives no TiS source items (only vlguard and spa_vl do)")
        return self._source_items(Path(release_dir), dict(options or {}), Path(image_dir))


FORMATS: dict[str, TrainingSetFormat] = {
    "vlguard": TrainingSetFormat("vlguard", "VLGuard train.json: one record per instruction/response pair",
                                 vlguard.DEFAULT_SOURCE, vlguard.fetch, vlguard.write_demo, vlguard.convert,
                                 vlguard.source_items),
    "mis": TrainingSetFormat("mis", "MIS mis_train.json: multi-image samples, one <image> per image",
                             mis.DEFAULT_SOURCE, mis.fetch, mis.write_demo, mis.convert),
    "spa_vl": TrainingSetFormat("spa_vl", "SPA-VL parquet: question + chosen answer",
                                spa_vl.DEFAULT_SOURCE, spa_vl.fetch, spa_vl.write_demo, spa_vl.convert,
                                spa_vl.source_items),
    "tis": TrainingSetFormat("tis", "the released TiS train_data.json (sharegpt with <think> thoughts)",
                             tis_release.DEFAULT_SOURCE, tis_release.fetch, tis_release.write_demo,
                             tis_release.convert),
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
