"""The catalog of tables and figures: every entry names a builder, drawing function, caption and
report group that exist, its names expand per benchmark as the rules' files do, and the module
plans a run without pandas or matplotlib."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from think_in_safety import catalog, figures, report
from think_in_safety import study_tables as st

from ..conftest import REPO

CAPTIONS = REPO / "workflow" / "report"


def test_entries_name_what_exists():
    catalog.check()
    for table in catalog.TABLES.values():
        builder = getattr(st, table.builder)
        accepted = set(inspect.signature(builder).parameters)
        assert set(table.reads) | set(table.options) <= accepted, table.name
        assert table.name in st.DISPLAYS and table.name in st.CAPTIONS and table.name in st.EMPTY_REASONS
        assert (CAPTIONS / f"{table.caption}.rst").is_file(), table.caption
    for figure in catalog.FIGURES.values():
        drawer = getattr(figures, figure.drawer)
        assert set(figure.options) <= set(inspect.signature(drawer).parameters), figure.name
        assert (CAPTIONS / f"{figure.caption}.rst").is_file(), figure.caption
    # the study tables that have a display are exactly the catalog's
    assert set(st.DISPLAYS) == set(catalog.TABLES) == set(st.CAPTIONS)


def test_a_wrong_entry_is_named():
    broken = catalog.Figure("extra", "no_such_table", "draw_extra", "finetuning", "extra", "extra", "Extra", "")
    catalog.FIGURES["extra"] = broken
    try:
        with pytest.raises(ValueError, match="figure extra: table 'no_such_table' is not a catalog table"):
            catalog.check()
    finally:
        del catalog.FIGURES["extra"]


def test_names_expand_per_benchmark():
    tables = catalog.table_names(["figstep", "siuo"])
    assert tables[:3] == ["safety_variation", "headline", "categories/figstep"] and "categories/siuo" in tables
    assert "categories" not in tables
    assert catalog.figure_names(["siuo"]) == ["safety_variation", "benchmark_results", "categories/siuo",
                                               "thought_length", "thought_vs_answer", "finetuning",
                                               "finetuning_tradeoff", "tis_composition"]
    assert catalog.figure_of("categories/siuo").drawer == "draw_categories"
    assert catalog.figure_table("categories/siuo") == "categories/siuo"
    assert catalog.figure_table("benchmark_results") == "headline"
    assert catalog.benchmark_of("categories/siuo") == "siuo" and catalog.benchmark_of("headline") is None
    assert catalog.report_labels("table", "categories/siuo") == {"table": "categories", "benchmark": "siuo"}
    assert catalog.report_labels("figure", "finetuning_tradeoff") == {"figure": "safety vs over-refusal"}
    assert catalog.group(catalog.FIGURES["finetuning_tradeoff"].group).subcategory == "5 Fine-tuning"


@pytest.mark.parametrize("name", ["nope", "categories", "headline/siuo"])
def test_unknown_names_are_clear_errors(name):
    with pytest.raises(ValueError, match=rf"unknown table '{name}'; known: safety_variation, headline, "
                                         r"categories/<benchmark>, "):
        catalog.table_of(name)


def test_report_groups_come_from_the_catalog():
    assert [group[0] for group in report.FIGURE_GROUPS] == [g.id for g in catalog.GROUPS]
    groups = {group[0]: group for group in report.FIGURE_GROUPS}
    assert groups["finetuning"][3:] == (["finetuning", "finetuning_tradeoff"], "finetuning")
    assert groups["benchmark-results"][3:] == (["benchmark_results"], "headline")  # heatmaps: per benchmark


def test_planning_imports_no_pandas_or_matplotlib():
    code = ("import sys, think_in_safety.catalog as c; c.table_names(['siuo']); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'pandas', 'numpy', 'matplotlib'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
