"""Results copied into a fresh clone are up to date: the modification times of unchanged
workflow files are those the results were made with.

Snakemake reruns a job when its rule's script, or a repository file it reads as input (the
judge-agreement labels, the LLaMA-Factory template, ...), is newer than the job's output. A fresh
``git clone`` (or a checkout, or a copy) gives every file of the workflow the time of the clone,
so results copied into it from elsewhere would all be redone, although not one byte of the code
changed.

So each run records, when it starts (``onstart``), every file under ``workflow/`` and
``config/`` of the checkout with its SHA-256, modification time and inode, in
:data:`RECORD` (inside ``results/``, so it travels with the results). When the Snakefile is
read, a file whose content is still the recorded one but which was re-created since (another
inode, or another checkout path) gets the recorded modification time back: its jobs are as up to
date as they were. A file whose content changed keeps its new time, so its jobs rerun as
Snakemake always does; and a file merely touched in place (same inode, same checkout) keeps it
too, so ``touch workflow/scripts/x.py`` still reruns that rule's jobs.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

#: where the record lives, relative to the working directory (next to the results)
RECORD = "results/.workflow_files.json"
#: the folders of the checkout whose files are recorded
FOLDERS = ("workflow", "config")


def _files(root: Path):
    for folder in FOLDERS:
        base = root / folder
        if base.is_dir():
            for path in sorted(base.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts and not path.is_symlink():
                    yield path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def record_workflow_files(root: str | Path, record: str | Path = RECORD) -> dict:
    """Write the record of the checkout at ``root`` (module docstring); return it."""
    root = Path(root).resolve()
    files = {}
    for path in _files(root):
        stat = path.stat()
        files[path.relative_to(root).as_posix()] = {"sha256": _sha256(path), "mtime_ns": stat.st_mtime_ns,
                                                    "inode": stat.st_ino}
    data = {"root": str(root), "files": files}
    record = Path(record)
    record.parent.mkdir(parents=True, exist_ok=True)
    partial = record.with_name(f".{record.name}.{os.getpid()}.part")
    partial.write_text(json.dumps(data, indent=0, sort_keys=True) + "\n")
    os.replace(partial, record)
    return data


def restore_workflow_mtimes(root: str | Path, record: str | Path = RECORD, stderr=None) -> list[str]:
    """Give each re-created file of the checkout at ``root`` whose content is the recorded one its
    recorded modification time (module docstring); the files changed this way, which a line on
    ``stderr`` names."""
    root = Path(root).resolve()
    try:
        data = json.loads(Path(record).read_text(encoding="utf-8"))
        files = dict(data["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return []
    same_checkout = data.get("root") == str(root)
    restored = []
    for name, entry in sorted(files.items()):
        path = root / name
        try:
            stat = path.stat()
            if stat.st_mtime_ns == entry["mtime_ns"]:
                continue
            if same_checkout and stat.st_ino == entry["inode"]:
                continue  # touched in place: a deliberate "rerun its jobs"
            if _sha256(path) != entry["sha256"]:
                continue
            os.utime(path, ns=(stat.st_atime_ns, int(entry["mtime_ns"])))
        except (OSError, KeyError, TypeError, ValueError):
            continue
        restored.append(name)
    if restored:
        print(f"Workflow files: {len(restored)} files of this checkout are byte for byte those the results in "
              f"{Path(record).parent}/ were made with; they got back the modification times recorded then "
              f"({record}), so their jobs are not redone (e.g. {', '.join(restored[:3])}).",
              file=stderr or sys.stderr)
    return restored
