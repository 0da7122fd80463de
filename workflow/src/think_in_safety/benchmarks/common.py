"""Pieces shared by the five benchmark modules: the spec's release operations, prompt rows, file
reading, checks."""

from __future__ import annotations

import contextvars
import hashlib
import io
import json
import os
import re
import struct
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, TypeVar

import pandas as pd
from PIL import Image, UnidentifiedImageError

from think_in_safety import official_texts
from think_in_safety.benchmarks.spec import BenchmarkSpec
from think_in_safety.tables import PROMPT_COLUMNS, check_columns

T = TypeVar("T")


# --------------------------------------------------------------------------------------------
# the spec's release operations (BenchmarkSpec.fetch / .load_prompts call these with its module's
# functions; the spec itself, in benchmarks/spec.py, imports neither pandas nor Pillow)
# --------------------------------------------------------------------------------------------
def fetch_release(spec: BenchmarkSpec, fetch: Callable[[str, Path, dict], None], source: str | None,
                  dest: str | os.PathLike, options: dict | None = None) -> None:
    """``fetch`` (the benchmark module's) into ``dest`` from ``source`` (default: the module's
    ``DEFAULT_SOURCE``), with the benchmark's official texts when the options ask for them
    (``official_texts``: fetched into ``dest/official_texts``)."""
    options = dict(options or {})
    official_texts.texts_config(spec.name, options)  # a bad setting fails before any download
    fetch(source or spec.default_source, Path(dest), options)
    official_texts.fetch(spec.name, options, Path(dest))


def load_release(spec: BenchmarkSpec, load_prompts: Callable[[Path, dict], pd.DataFrame],
                 release_dir: str | os.PathLike, options: dict | None = None) -> pd.DataFrame:
    """The prompt table (``tables.PROMPT_COLUMNS``) that ``load_prompts`` (the benchmark module's)
    reads from a release (real or demo). The official texts the options ask for ride in the
    table's ``attrs`` (written into its parquet file) for the judge:
    :func:`official_texts.from_table`; so does what was read (:func:`record_release`: the release
    folder and a digest of every file read)."""
    options = dict(options or {})
    texts = official_texts.load(spec.name, Path(release_dir), options)  # fails first when asked and missing
    with recording_reads() as reads:
        table = load_prompts(Path(release_dir), options)
    return record_release(official_texts.attach(table, texts), spec.name, Path(release_dir), reads)


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
#: the file a fetch with ``link: true`` writes into the release: the folders its symlinks point
#: into (the local mirror it linked from), which release paths may then resolve into
LINKED_FROM = ".linked_from.json"
#: key of the prompt table's ``attrs`` (kept in its parquet file) that records the release read
RELEASE_ATTRS_KEY = "release"

#: path -> sha256 of every release file read while a :func:`recording_reads` block is open
_READS: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("release_reads", default=None)


@contextmanager
def recording_reads() -> Iterator[dict[str, str]]:
    """Collect ``{path: sha256}`` of every release file the readers below read inside the block
    (question files through :func:`read_json` / :func:`read_csv`, images through the image check)."""
    reads: dict[str, str] = {}
    token = _READS.set(reads)
    try:
        yield reads
    finally:
        _READS.reset(token)


def _read_bytes(path: Path) -> bytes:
    """The bytes of a release file, noted (with their digest) while reads are recorded."""
    data = Path(path).read_bytes()
    reads = _READS.get()
    if reads is not None:
        reads[str(path)] = hashlib.sha256(data).hexdigest()
    return data


def _missing(path: Path, what: str) -> ValueError:
    return ValueError(f"{path} not found: expected {what}. Run the fetch (or demo) rule first, "
                      "or point the release directory at a copy of the upstream release")


def read_text(path: Path, what: str) -> str:
    """A release text file decoded as UTF-8 (a leading byte-order mark is dropped); another
    encoding is an error naming the file, the first bad byte and the fix."""
    path = Path(path)
    if not path.is_file():
        raise _missing(path, what)
    data = _read_bytes(path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise ValueError(
            f"{path} is not UTF-8 text: byte 0x{data[error.start]:02x} on line {line} cannot be decoded "
            f"(expected {what}). Re-save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8 old > new`, "
            "or 'Save as: CSV UTF-8' in a spreadsheet), or fetch the release again") from None


def read_json(path: Path, what: str) -> Any:
    """Parse a JSON file; a missing, non-UTF-8 or malformed file raises a ValueError naming it."""
    text = read_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); expected {what}") from error


def read_csv(path: Path, columns: list[str], what: str) -> pd.DataFrame:
    """Read a CSV as strings (no NaN for empty cells); check that ``columns`` are present. A
    missing, non-UTF-8 or malformed file raises a ValueError naming it."""
    text = read_text(path, what)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise ValueError(f"{path} is not a readable CSV ({error}); expected {what}") from None
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


def _linked_roots(release_dir: Path) -> list[Path]:
    """The folders a linked fetch (``link: true``) pointed this release's symlinks into."""
    marker = Path(release_dir) / LINKED_FROM
    if not marker.is_file():
        return []
    try:
        return [Path(root) for root in json.loads(marker.read_text(encoding="utf-8"))]
    except (ValueError, TypeError):
        return []


def note_linked_source(dest: Path, source: str, options: dict) -> None:
    """After a fetch with ``link: true`` from a local folder: record that folder in the release
    (:data:`LINKED_FROM`), so that paths resolving through the links into it are accepted."""
    from think_in_safety import download

    if not options.get("link") or download.is_url(source):
        return
    marker = Path(dest) / LINKED_FROM
    roots = _linked_roots(Path(dest))
    resolved = str(Path(source).resolve())
    if resolved not in map(str, roots):
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps([*map(str, roots), resolved]) + "\n", encoding="utf-8")


def release_path(release_dir: Path, relative: Any, *, file: Path, row: str, folder: str = "") -> str:
    """The path string stored in ``image_paths`` for a path read from a release file:
    ``release_dir / folder / relative``, kept relative when ``release_dir`` is.

    Every loader takes every path it reads from a release file through here. The path must be a
    relative path that stays inside the release: an absolute path, one that climbs out with
    ``..``, or one that resolves (through symlinks) to a place outside the release is refused with
    the file and the row that named it. (A release fetched with ``link: true`` may resolve into
    the local folder it was linked from.)"""
    release_dir = Path(release_dir)

    def refuse(problem: str) -> ValueError:
        return ValueError(
            f"{file}: {row} names the path {relative!r}, which {problem}. A release file may name only "
            f"relative paths inside its release ({release_dir}): fix or remove that row, or point the "
            "benchmark's source at a release that holds the file")

    if not isinstance(relative, str) or not relative.strip():
        raise refuse("is not a file name")
    if (PurePosixPath(relative).is_absolute() or PureWindowsPath(relative).is_absolute()
            or PureWindowsPath(relative).drive or relative.startswith(("/", "\\"))):
        raise refuse("is absolute")
    joined = Path(folder) / relative if folder else Path(relative)
    normalized = os.path.normpath(joined)
    if normalized == os.pardir or normalized.startswith(os.pardir + os.sep):
        raise refuse("climbs out of the release with '..'")
    resolved = (release_dir / joined).resolve()
    roots = [release_dir.resolve(), *_linked_roots(release_dir)]
    if not any(resolved == root or resolved.is_relative_to(root) for root in roots):
        raise refuse(f"resolves through a symlink to {resolved}, outside the release")
    return str(release_dir / joined)


def image_str(release_dir: Path, relative: str) -> str:
    """The path string stored in ``image_paths``: release_dir / relative, kept relative if given so.
    For a path the workflow builds itself; a path read from a release file goes through
    :func:`release_path`."""
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


def check_image(path: str | Path, prompt_id: str) -> tuple[int, int]:
    """Open and fully decode one image, as every later job that sends it will; return its size.

    Refused, naming the file and the prompt: a format Pillow cannot identify, a truncated or
    damaged file, and more pixels than Pillow's decompression-bomb limit
    (``PIL.Image.MAX_IMAGE_PIXELS``, 89,478,485 by default), which the jobs that open the image
    would hit later (a warning above it, an error above twice it)."""
    path = Path(path)
    data = _read_bytes(path)
    limit = Image.MAX_IMAGE_PIXELS
    where = f"image {path} (prompt {prompt_id})"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if limit and width * height > limit:
                    raise _TooLarge(f"is {width}x{height} = {width * height:,} pixels")
                image.load()
                return width, height
    except (_TooLarge, Image.DecompressionBombError) as error:
        counted = re.search(r"\((\d+) pixels\)", str(error))  # Pillow: "Image size (N pixels) exceeds ..."
        size = (str(error) if isinstance(error, _TooLarge)
                else f"has {int(counted.group(1)):,} pixels" if counted else f"is too large (Pillow: {error})")
        raise ValueError(
            f"{where} {size}, more than Pillow's decompression-bomb limit of {limit:,} pixels "
            "(PIL.Image.MAX_IMAGE_PIXELS), which every job that opens the image applies: downscale it "
            "(e.g. to at most 4096 pixels a side) or remove its row from the release") from None
    except UnidentifiedImageError:
        raise ValueError(f"{where} is not an image Pillow can read (unknown format; {len(data)} bytes "
                         f"starting {data[:8]!r}): replace it with a PNG or JPEG file, or fetch the release "
                         "again") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as error:
        raise ValueError(f"{where} cannot be decoded: it is truncated or damaged (Pillow: {error}). Delete "
                         "it and fetch the release again, or replace the file") from None


class _TooLarge(Exception):
    """An image above the pixel limit (raised inside :func:`check_image`, reworded there)."""


def check_images(table: pd.DataFrame, benchmark: str) -> None:
    """Decode every image of the table once (each file once, however many prompts send it):
    :func:`check_image`. Missing files are :func:`check_images_exist`'s to report (with
    ``require_images: false`` they are left out here)."""
    seen: set[str] = set()
    for prompt_id, paths in zip(table["id"], table["image_paths"], strict=True):
        for path in paths:
            if path in seen:
                continue
            seen.add(path)
            if Path(path).is_file():
                check_image(path, prompt_id)


def release_digest(release_dir: Path, reads: dict[str, str]) -> str:
    """sha256 over the files read, each as its path in the release and its own sha256 (sorted):
    the same release read from another folder has the same digest; any changed byte changes it."""
    lines = []
    for path, digest in reads.items():
        try:
            name = Path(path).relative_to(release_dir).as_posix()
        except ValueError:
            name = Path(path).as_posix()
        lines.append(f"{name}\t{digest}\n")
    return hashlib.sha256("".join(sorted(lines)).encode()).hexdigest()


def record_release(table: pd.DataFrame, benchmark: str, release_dir: Path, reads: dict[str, str],
                   source: str | None = None) -> pd.DataFrame:
    """``table`` with what it was read from in ``attrs[RELEASE_ATTRS_KEY]`` (pandas writes attrs
    into the parquet file): the benchmark, the release folder, how many files were read and
    :func:`release_digest`; ``source`` (the config's ``source`` the release came from) is added
    by the prompts rule with :func:`record_source`."""
    table.attrs[RELEASE_ATTRS_KEY] = {
        "benchmark": benchmark, "release_dir": str(release_dir), "files_read": len(reads),
        "sha256": release_digest(Path(release_dir), reads),
        **({"source": source} if source is not None else {}),
    }
    return table


def record_source(table: pd.DataFrame, source: str) -> pd.DataFrame:
    """Add the config's ``source`` to the release record of a prompt table built by load_prompts."""
    record = table.attrs.get(RELEASE_ATTRS_KEY)
    if not isinstance(record, dict):
        raise ValueError("the prompt table carries no release record: build it with BenchmarkSpec.load_prompts")
    record["source"] = str(source)
    return table


def release_of(table: pd.DataFrame) -> dict | None:
    """The release record of a prompt table (None for a table built before it was recorded)."""
    record = getattr(table, "attrs", {}).get(RELEASE_ATTRS_KEY)
    return dict(record) if isinstance(record, dict) else None


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
    check_required_texts(table, benchmark)
    table["n_samples"] = table["n_samples"].astype("int64")
    check_images_exist(table, require_images, benchmark)
    check_images(table, benchmark)
    return table.reset_index(drop=True)


#: prompt-table columns that must hold text in every row: what the model is sent and what the
#: judge is asked about
REQUIRED_TEXTS = ("prompt", "question")


def check_required_texts(table: pd.DataFrame, benchmark: str) -> None:
    """Refuse rows whose prompt or question is empty (or not text), naming the prompt ids and the
    release files read: a blank cell would be sent, and judged, as an empty request."""
    for column in REQUIRED_TEXTS:
        blank = [pid for pid, value in zip(table["id"], table[column], strict=True)
                 if not isinstance(value, str) or not value.strip()]
        if blank:
            reads = _READS.get() or {}
            files = [path for path in reads if Path(path).suffix.lower() in (".json", ".csv")]
            where = f" (read from {', '.join(files[:3])})" if files else ""
            raise ValueError(
                f"{benchmark}: {len(blank)} prompt(s) have an empty {column}{where}: "
                f"{', '.join(blank[:5])}. Fill in the text of those rows in the release file, or remove them")


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
