"""Planning the workflow is light: what the Snakefile imports, and everything it runs while
Snakemake parses it and builds the DAG, needs the standard library, PyYAML and jsonschema only.

Snakemake parses the Snakefile on every invocation (dry runs, ``--lint``, every cluster job's
own ``snakemake`` call), so pandas, Pillow, torch, transformers and requests must stay out of it:
they are imported by the jobs that need them. Two checks, each in a fresh interpreter:

* the imports of the Snakefile and of ``workflow/rules/*.smk``, as written there, and the
  registries (benchmarks, training sets), load none of them;
* a dry run of the demo and of the paper's configuration, with every ``import`` statement
  watched: none of them is executed by the workflow's own code (Snakefile, rules, package).
  Snakemake itself loads pandas for its own reasons, so the check is on who imports, not on
  ``sys.modules``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HEAVY = ("pandas", "PIL", "torch", "transformers", "requests", "numpy", "pyarrow", "matplotlib")

#: an import statement at the start of a line, with a parenthesised name list over several lines
IMPORT = re.compile(r"^(?:from\s+\S+\s+import\s+(?:\([^)]*\)|.+)|import\s+.+)$", re.MULTILINE)


def workflow_imports() -> list[str]:
    """The import statements of the Snakefile and the rule files, as written there."""
    files = [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]
    return [match.group(0) for path in files for match in IMPORT.finditer(path.read_text(encoding="utf-8"))]


def test_what_the_snakefile_imports_is_light():
    statements = workflow_imports()
    assert any("think_in_safety.config" in s for s in statements), statements
    probe = "\n".join(statements) + textwrap.dedent(f"""
        import json, sys
        print(json.dumps([name for name in {HEAVY!r} if name in sys.modules]))
        """)
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == [], f"importing what the Snakefile imports loads {loaded}; import them inside the functions " \
                         "that need them (jobs), not at module level of what the rules import"


#: what the rules read while planning, besides what they import
LIGHT = ["think_in_safety.benchmarks", "think_in_safety.training_sets", "think_in_safety.planning",
         "think_in_safety.config", "think_in_safety.judges.runs"]


@pytest.mark.parametrize("module", LIGHT)
def test_registries_and_planning_modules_are_light(module):
    """The benchmark and training-set registries are plain data: their specs name the modules
    that read the releases, imported when an operation runs."""
    probe = (f"import json, sys, {module}\n"
             f"print(json.dumps([name for name in {HEAVY!r} if name in sys.modules]))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [], module


#: runs Snakemake's command line, noting each import of a heavy package made by workflow code
WATCH = '''
import builtins, json, sys
repo, heavy, report = sys.argv[1], set(sys.argv[2].split(",")), sys.argv[3]
own = (repo + "/workflow/", repo + "/Snakefile")
made = []
original = builtins.__import__

def watched(name, globals=None, locals=None, fromlist=(), level=0):
    caller = sys._getframe(1)  # the code running the import statement
    if level == 0 and name.split(".")[0] in heavy and caller.f_code.co_filename.startswith(own):
        made.append(f"{name} (imported at {caller.f_code.co_filename}:{caller.f_lineno})")
    return original(name, globals, locals, fromlist, level)

builtins.__import__ = watched
from snakemake.cli import main
try:
    main(sys.argv[4:])
    code = 0
except SystemExit as stop:
    code = stop.code or 0
with open(report, "w") as handle:
    json.dump({"code": code, "imports": sorted(set(made))}, handle)
'''


@pytest.mark.parametrize("config", ["config/config.yaml", "config/paper.yaml"])
def test_planning_a_run_imports_nothing_heavy(config, tmp_path):
    script, report = tmp_path / "watch.py", tmp_path / "report.json"
    script.write_text(WATCH)
    # The SLURM executor plugin asks `scontrol show config` when Snakemake starts, which waits
    # ~10 s where a SLURM client has no controller to ask: not what this test is about.
    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "scontrol").write_text("#!/bin/sh\nexit 1\n")
    (shims / "scontrol").chmod(0o755)
    env = {**os.environ, "PATH": f"{shims}{os.pathsep}{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "HF_HUB_OFFLINE": "1"}
    work = tmp_path / "work"
    work.mkdir()
    command = [sys.executable, str(script), str(REPO), ",".join(HEAVY), str(report), "--snakefile",
               str(REPO / "Snakefile"), "--configfile", str(REPO / config), "--directory", str(work), "-n",
               "--cores", "2", "--quiet"]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    outcome = json.loads(report.read_text())
    assert outcome["code"] == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert outcome["imports"] == [], ("planning the workflow imports heavy packages; import them in the "
                                      "functions the jobs call instead:\n  " + "\n  ".join(outcome["imports"]))
