"""The report's benchmark sources come from what the prompt tables say they read, not from what
the config says when the report is drawn (think_in_safety.report.benchmark_releases)."""

from __future__ import annotations

import pandas as pd

from think_in_safety.benchmarks import get_benchmark
from think_in_safety.benchmarks.common import record_source, release_of
from think_in_safety.report import benchmark_releases, collect_provenance, provenance_rows


def prompts_table(tmp_path, name: str, source: str) -> tuple:
    release = tmp_path / "resources/benchmarks/demo" / name
    spec = get_benchmark(name)
    spec.write_demo(release, seed=0)
    table = record_source(spec.load_prompts(release, {"limit": 1}), source)
    path = tmp_path / f"results/prompts/{name}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(path, index=False)
    return path, release_of(table)


def config_of(**sources) -> dict:
    return {"benchmarks": {name: {"source": source, "judge": "rule", "options": {}}
                           for name, source in sources.items()},
            "models": {}, "judges": {}}


def test_sources_are_those_the_prompt_tables_record(tmp_path):
    path, record = prompts_table(tmp_path, "figstep", "demo")
    shown = benchmark_releases(config_of(figstep="demo"), [path])["figstep"]
    assert shown == {"source": "demo", "release folder read": record["release_dir"],
                     "files read": record["files_read"], "digest of the files read (sha256)": record["sha256"]}


def test_a_later_config_source_does_not_replace_what_was_read(tmp_path):
    """The user points source at a folder after the prompts were built from the demo: the report
    still says demo, and shows what the config says now beside it."""
    path, record = prompts_table(tmp_path, "siuo", "demo")
    config = config_of(siuo=str(tmp_path / "my_copy/SIUO"))
    provenance = collect_provenance(config, prompt_paths=[path])
    shown = provenance["benchmark sources"]["siuo"]
    assert shown["source"] == "demo" and shown["release folder read"] == record["release_dir"]
    assert shown["config now says"] == f"{tmp_path / 'my_copy/SIUO'} (the prompts were not rebuilt from it)"
    assert any(key == "benchmark sources" and "my_copy/SIUO" in value and '"source": "demo"' in value
               for key, value in provenance_rows(provenance))


def test_tables_without_a_record_and_missing_tables_say_so(tmp_path):
    old = tmp_path / "results/prompts/mssbench.parquet"
    old.parent.mkdir(parents=True)
    pd.DataFrame({"id": ["mssbench/chat/0/0/safe"]}).to_parquet(old, index=False)
    shown = benchmark_releases(config_of(mssbench="demo", jailbreakv="demo"), [old])
    assert shown["mssbench"].startswith(f"not recorded: {old} was built before")
    assert "delete it and rerun" in shown["mssbench"]
    assert shown["jailbreakv"].startswith("no prompt table")


def test_without_prompt_tables_the_config_is_shown():
    assert collect_provenance(config_of(figstep="demo"))["benchmark sources"] == {"figstep": "demo"}
