"""A config file that is not valid YAML is named with its file, line and column: the embedded
default (parsed by the Snakefile before Snakemake's `configfile:`), and any file through
`python -m think_in_safety.config FILE` (Snakemake parses a --configfile itself, before the
Snakefile runs, and names neither file nor line)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from think_in_safety.config import ConfigError, read_config_file

from ..conftest import REPO

BIN = Path(sys.executable).parent
BROKEN = "seed: 0\nmodels:\n  a: {weights: built\n  b: x\n"


def test_a_yaml_error_names_file_line_and_column(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(BROKEN)
    with pytest.raises(ConfigError) as error:
        read_config_file(path)
    message = str(error.value)
    assert message.startswith(f"config file {path}, line 4, column 4: not valid YAML")
    assert "began at line 3" in message and "\n      b: x\n" in message


def test_a_tab_indent_and_a_non_mapping_are_named(tmp_path):
    tabs = tmp_path / "tabs.yaml"
    tabs.write_text("seed: 0\nmodels:\n\ta: 1\n")
    with pytest.raises(ConfigError, match=r"(?s)tabs.yaml, line 3, column 1: not valid YAML.*no tabs"):
        read_config_file(tabs)
    listed = tmp_path / "list.yaml"
    listed.write_text("- seed: 0\n")
    with pytest.raises(ConfigError, match="holds a list, not keys at its top level"):
        read_config_file(listed)
    assert read_config_file(REPO / "config/config.yaml")["seed"] == 0


def test_the_embedded_config_error_reaches_the_terminal_with_file_and_line(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config/config.yaml").write_text(BROKEN)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run([str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "-n"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "config file config/config.yaml, line 4, column 4: not valid YAML" in result.stdout + result.stderr


def test_the_command_line_check_names_a_study_file(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(BROKEN)
    result = subprocess.run([sys.executable, "-m", "think_in_safety.config", str(REPO / "config/paper.yaml"),
                             str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and f"config file {path}, line 4" in result.stderr
