"""The repository stands alone: no file refers to a path outside it.

A clone has nothing beside it, so a reference to a folder next to the checkout, or to notes that
were never part of the repository, is a dead link for every reader and a broken path for every
run. Checked: the code, rules, docs, configs and metadata of the repository (the files git
tracks or would track: ``.py``, ``.smk``, ``.md``, ``.yaml``/``.yml``, ``.cff``, ``Makefile``,
``Snakefile``), not environments (``.venv*``), Snakemake's records or results.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from .conftest import REPO

SUFFIXES = {".py", ".smk", ".md", ".yaml", ".yml", ".cff"}
NAMES = {"Makefile", "Snakefile"}
SKIPPED = (".venv", ".snakemake", "results", "resources", "reports", "logs", "benchmarks")
# written in pieces, so that this file does not name them itself
OUTSIDE = [
    re.escape(".." + "/shared"),
    re.escape("shared" + "/samples"),
    *(re.escape(name + ".md") for name in ("STACK", "PAPER", "BENCHMARKS", "CONVENTIONS")),
]
PATTERN = re.compile("|".join(OUTSIDE))


def repository_files(root: Path = REPO) -> list[Path]:
    """The files git tracks or would track (not ignored), else every file outside :data:`SKIPPED`."""
    try:
        listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                                cwd=root, capture_output=True, text=True, check=True, timeout=60).stdout
        files = [root / name for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (a copied tree)
        files = [path for path in root.rglob("*") if path.is_file()]
    return sorted(path for path in files
                  if not path.relative_to(root).parts[0].startswith(SKIPPED)
                  and (path.suffix in SUFFIXES or path.name in NAMES) and path.is_file())


def outside_references(files: list[Path], root: Path = REPO) -> list[str]:
    found = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            for match in PATTERN.finditer(line):
                found.append(f"{path.relative_to(root)}:{number}: {match.group(0)}")
    return found


def test_no_file_refers_outside_the_repository():
    files = repository_files()
    assert any(path.name == "Snakefile" for path in files) and any(path.suffix == ".smk" for path in files)
    found = outside_references(files)
    assert not found, ("these files refer to paths outside the repository; write what is needed here "
                       "instead:\n  " + "\n  ".join(found))


def test_the_check_finds_each_kind_of_reference(tmp_path):
    names = ["a.py", "b.md", "c.yaml", "Makefile", "d.smk", "e.cff", "f.txt"]
    texts = [".." + "/shared/x.py", "see " + "STACK" + ".md", "data: " + "shared" + "/samples/1",
             "include " + "PAPER" + ".md", "# " + "CONVENTIONS" + ".md", "BENCHMARKS" + ".md", "PAPER" + ".md"]
    for name, text in zip(names, texts):
        (tmp_path / name).write_text(text + "\n")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "g.md").write_text("STACK" + ".md\n")
    (tmp_path / "h.md").write_text("docs/stack.md and docs/benchmarks.md are files of the repository\n")
    found = outside_references(repository_files(tmp_path), tmp_path)
    assert [line.split(":")[0] for line in found] == ["Makefile", "a.py", "b.md", "c.yaml", "d.smk", "e.cff"]
