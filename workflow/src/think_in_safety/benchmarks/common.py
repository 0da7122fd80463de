"""Pieces shared by the five benchmark modules: the spec type, prompt rows, file reading, checks."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from think_in_safety import official_texts
from think_in_safety.tables import PROMPT_COLUMNS, check_columns

T = TypeVar("T")

FAMILIES = ("jailbreak", "awareness")
METRICS = ("asr", "siuo_safe_rate", "mssbench_accuracy")


@dataclass(frozen=True)
class BenchmarkSpec:
    """One benchmark: identity, default source and the three operations the rules call."""

    name: str
    family: str
    metric: str
    default_source: str
    description: str
    _fetch: Callable[[str, Path, dict], None] = field(repr=False)
    _write_demo: Callable[[Path, int], None] = field(repr=False)
    _load_prompts: Callable[[Path, dict], pd.DataFrame] = field(repr=False)
    #: where the image archive is published when the images are not in the source (a URL
    #: source then needs the option ``images_url``); None when the source holds the images
    needs_images_url: str | None = None
    #: the release folder the image archive fills (with ``needs_images_url``)
    images_dir: str | None = None
    #: options that may stand in for ``images_url`` (e.g. a URL base of the image files)
    images_url_alternatives: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"{self.name}: family must be one of {FAMILIES}, not {self.family!r}")
        if self.metric not in METRICS:
            raise ValueError(f"{self.name}: metric must be one of {METRICS}, not {self.metric!r}")

    def missing_images_url(self, source: str | None, options: dict | None = None) -> str | None:
        """Why fetching ``source`` would find no images (None when it will): a URL source of a
        benchmark whose images ship apart, without ``images_url`` (or an alternative) or
        ``skip_images: true``. Demo and local sources hold their images."""
        options = dict(options or {})
        source = source or self.default_source
        if not self.needs_images_url or not str(source).startswith(("http://", "https://")):
            return None
        if options.get("skip_images") is True:
            return None
        if any(options.get(key) for key in ("images_url", *self.images_url_alternatives)):
            return None
        alternatives = "".join(f", or set {key}" for key in self.images_url_alternatives)
        return (f"{self.name}'s images are not in its source ({source}): set images_url to the "
                f"image archive, published at {self.needs_images_url} (that link works as it is), "
                f"or to the local path of the downloaded zip{alternatives}; or point source at a "
                f"local copy of the release that holds {self.images_dir}/")

    def fetch(self, source: str | None, dest: str | os.PathLike, options: dict | None = None) -> None:
        """Write the upstream release into ``dest`` (upstream layout) from a URL base or local dir,
        with the benchmark's official texts when the options ask for them (``official_texts``:
        fetched into ``dest/official_texts``)."""
        options = dict(options or {})
        official_texts.texts_config(self.name, options)  # a bad setting fails before any download
        self._fetch(source or self.default_source, Path(dest), options)
        official_texts.fetch(self.name, options, Path(dest))

    def write_demo(self, dest: str | os.PathLike, seed: int = 0) -> None:
        """Write a small demo release into ``dest`` in exactly the upstream on-disk format."""
        self._write_demo(Path(dest), int(seed))

    def load_prompts(self, release_dir: str | os.PathLike, options: dict | None = None) -> pd.DataFrame:
        """Read a release (real or demo) into the prompt table (``tables.PROMPT_COLUMNS``). The
        official texts the options ask for ride in the table's ``attrs`` (written into its parquet
        file) for the judge: :func:`official_texts.from_table`."""
        options = dict(options or {})
        texts = official_texts.load(self.name, Path(release_dir), options)  # fails first when asked and missing
        return official_texts.attach(self._load_prompts(Path(release_dir), options), texts)


# --------------------------------------------------------------------------------------------
# options
# --------------------------------------------------------------------------------------------
def opt_limit(options: dict) -> int | None:
    """``options["limit"]``: None (all) or a positive int (max prompts/items per category)."""
    limit = options.get("limit")
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"option 'limit' must be a positive integer or null, not {limit!r}")
    return limit


def opt_bool(options: dict, key: str, default: bool) -> bool:
    """A boolean option; rejects strings like "false" that would silently read as True."""
    value = options.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"option {key!r} must be true or false, not {value!r}")
    return value


def take_per_category(items: Iterable[T], category_of: Callable[[T], Any],
                      limit: int | None) -> list[T]:
    """The first ``limit`` items of each category, in file order (deterministic)."""
    items = list(items)
    if limit is None:
        return items
    seen: dict[Any, int] = defaultdict(int)
    kept = []
    for item in items:
        key = category_of(item)
        if seen[key] < limit:
            seen[key] += 1
            kept.append(item)
    return kept


# --------------------------------------------------------------------------------------------
# reading and checking upstream files
# --------------------------------------------------------------------------------------------
def read_json(path: Path, what: str) -> Any:
    """Parse a JSON file; missing or malformed files raise a ValueError naming the file."""
    if not path.is_file():
        raise ValueError(f"{path} not found: expected {what}. Run the fetch (or demo) rule first, "
                         "or point the release directory at a copy of the upstream release")
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); expected {what}") from error


def read_csv(path: Path, columns: list[str], what: str) -> pd.DataFrame:
    """Read a CSV as strings (no NaN for empty cells); check that ``columns`` are present."""
    if not path.is_file():
        raise ValueError(f"{path} not found: expected {what}. Run the fetch (or demo) rule first, "
                         "or point the release directory at a copy of the upstream release")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{path} lacks columns {missing}: expected {what} with columns {columns}, "
                         f"found {list(frame.columns)}")
    return frame


def require_keys(record: Any, keys: Iterable[str], path: Path, where: str) -> None:
    """Raise a ValueError naming the file and record when ``record`` lacks any of ``keys``."""
    if not isinstance(record, dict):
        raise ValueError(f"{path}: {where} should be a JSON object, got {type(record).__name__}")
    missing = [key for key in keys if key not in record]
    if missing:
        raise ValueError(f"{path}: {where} lacks keys {missing} (has {sorted(record)})")


def image_str(release_dir: Path, relative: str) -> str:
    """The path string stored in ``image_paths``: release_dir / relative, kept relative if given so."""
    return str(Path(release_dir) / relative)


def check_images_exist(table: pd.DataFrame, required: bool, benchmark: str) -> None:
    """With ``required``, raise a ValueError listing (the first few) image files that are missing."""
    if not required:
        return
    paths = sorted({path for paths in table["image_paths"] for path in paths})
    missing = [path for path in paths if not Path(path).is_file()]
    if missing:
        shown = ", ".join(missing[:5])
        raise ValueError(f"{benchmark}: {len(missing)} of {len(paths)} images are missing (e.g. {shown}); "
                         "fetch the image files, or pass require_images: false to load without them")


# --------------------------------------------------------------------------------------------
# prompt rows
# --------------------------------------------------------------------------------------------
def prompt_row(*, id: str, benchmark: str, subset: str, category: str, prompt: str,
               question: str, image_paths: list[str] | None = None, system_prompt: str = "",
               n_samples: int = 1, safety_warning: str = "", reference_answer: str = "",
               image_context: str = "", judge_rubric: str = "",
               text_source: str = official_texts.RELEASE) -> dict:
    """One row of the prompt table, every PROMPT_COLUMNS field spelled out. ``text_source``: where
    the prompt's wrapper text comes from (default ``release``: the prompt is the release's own text)."""
    return {
        "id": id, "benchmark": benchmark, "subset": subset, "category": category,
        "image_paths": list(image_paths or []), "system_prompt": system_prompt, "prompt": prompt,
        "n_samples": int(n_samples), "question": question, "safety_warning": safety_warning,
        "reference_answer": reference_answer, "image_context": image_context,
        "judge_rubric": judge_rubric, "text_source": text_source,
    }


def finish_table(rows: list[dict], benchmark: str, require_images: bool) -> pd.DataFrame:
    """Rows -> validated prompt table: contract columns, unique ids, non-empty, images checked."""
    if not rows:
        raise ValueError(f"{benchmark}: no prompts were produced (empty release or options that "
                         "filter everything out)")
    table = pd.DataFrame(rows, columns=list(PROMPT_COLUMNS))
    table = check_columns(table, PROMPT_COLUMNS, f"{benchmark} prompt table")
    duplicated = table["id"][table["id"].duplicated()].tolist()
    if duplicated:
        raise ValueError(f"{benchmark}: duplicate prompt ids {duplicated[:5]}")
    table["n_samples"] = table["n_samples"].astype("int64")
    check_images_exist(table, require_images, benchmark)
    return table.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# writing demo releases
# --------------------------------------------------------------------------------------------
def write_json(path: Path, payload: Any) -> Path:
    """Write JSON as upstream does (UTF-8, indented, non-ASCII kept)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=4, ensure_ascii=False)
        handle.write("\n")
    return path


def transfer_options(options: dict) -> dict:
    """The download/copy settings a fetch passes on to ``download.fetch_files``."""
    keys = ("retries", "backoff", "timeout", "workers", "link")
    return {key: options[key] for key in keys if key in options}
