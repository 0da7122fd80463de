"""Every figure is readable at the size the report shows it: no two texts overlap (panel titles,
the titles of the benchmark-family groups and the figure's own, axis and tick labels, legends,
values written on the plot), no text leaves the figure, and no text is shown smaller than 7 pt. \
Checked on the synthetic study and on the same numbers under the names of
config/paper.yaml (sixteen models, eleven pairs, models fine-tuned on five sets)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text

from think_in_safety import catalog, figures
from think_in_safety import study_tables as st

from . import synthetic_study as ss
from .test_figures import all_tables, study  # noqa: F401  (the fixture)

#: the report's body is at most 1180 CSS px wide with 1.2rem (15 px) padding on each side, and shows
#: a figure at 96 CSS px per inch, scaled down when wider (report.html.j2, report.png_data_uri)
REPORT_WIDTH_IN = (1180 - 2 * 1.2 * 15) / 96
MIN_DISPLAY_PT = 7.0
SLACK_PX = 1.0

# synthetic model -> the paper's models that stand in for it (rows are copied under each name)
PAPER_NAMES = {
    "base-a": ["qwen2.5-vl-7b", "qwen2-vl-7b", "qwen2-vl-72b"],
    "reason-a": ["r1-onevision-7b", "vlaa-thinker-7b", "openvlthinker-7b", "vision-r1-7b", "mm-eureka-qwen-7b",
                 "thinklite-vl-7b"],
    "base-b": ["llama-3.2-11b-vision", "kimi-vl-a3b-instruct"],
    "reason-b": ["llava-cot-11b", "llamav-o1-11b", "kimi-vl-a3b-thinking", "qvq-72b-preview", "mulberry-7b"],
}
TUNED_PARENTS = ["r1-onevision-7b", "llava-cot-11b"]  # sft.models of config/paper.yaml
PAPER_SETS = {"tis": "tis_assembled"}
PAPER_LABELS = {"+TiS": "+TiS (assembled here)"}
NAME_COLUMNS = ("model", "reasoning_model", "base_model", "untuned_model")


def paper_name(name: str, k: int) -> str:
    tuned = st.split_tuned(name)
    if tuned:
        return f"{TUNED_PARENTS[k % len(TUNED_PARENTS)]}+{PAPER_SETS.get(tuned[1], tuned[1])}"
    names = PAPER_NAMES.get(name, [name])
    return names[k % len(names)]


def paper_like(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its rows copied under the paper's model names (and training-set labels)."""
    copies = len(TUNED_PARENTS) if name == "finetuning" else max(map(len, PAPER_NAMES.values()))
    parts = []
    for k in range(copies):
        part = frame.copy()
        for column in NAME_COLUMNS:
            if column in part.columns:
                if name == "finetuning" and column == "untuned_model":
                    part[column] = TUNED_PARENTS[k]
                else:
                    part[column] = [paper_name(v, k) for v in part[column]]
        if "tuning" in part.columns:
            part["tuning"] = part["tuning"].replace(PAPER_LABELS)
        parts.append(part)
    return pd.concat(parts, ignore_index=True).drop_duplicates(ignore_index=True)


def options(name: str, paper: bool) -> dict:
    if not catalog.FIGURES[name].options:
        return {}
    pairs = ss.PAIRS if not paper else {paper_name(r, k): paper_name(b, k) for r, b in ss.PAIRS.items()
                                         for k in range(len(PAPER_NAMES[r]))}
    return {"pairs": pairs}


def drawn_texts(fig):
    """Every text the figure draws: visible, under visible parents, tick labels only where a tick
    is drawn (inside the view)."""
    ticks, drawn = set(), set()
    for ax in fig.get_axes():
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                ticks |= {id(tick.label1), id(tick.label2)}
            for tick in axis._update_ticks():  # the ticks inside the view interval
                drawn |= {id(tick.label1), id(tick.label2)}

    def visible(artist):
        if not artist.get_visible():
            return
        if isinstance(artist, Text) and artist.get_text().strip() and (id(artist) not in ticks or id(artist) in drawn):
            yield artist
        for child in artist.get_children():
            yield from visible(child)

    return list(dict.fromkeys(visible(fig)))


def layout_problems(fig) -> list[str]:
    FigureCanvasAgg(fig)
    figures.fix_layout(fig)  # laid out as save_figure lays it out, at the PNG's 200 dpi
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    texts = drawn_texts(fig)
    extent = {id(t): t.get_window_extent(renderer) for t in texts}
    problems = []
    scale = min(1.0, REPORT_WIDTH_IN / fig.get_figwidth())
    for text in texts:
        e = extent[id(text)]
        if e.x0 < box.x0 - SLACK_PX or e.y0 < box.y0 - SLACK_PX or e.x1 > box.x1 + SLACK_PX or e.y1 > box.y1 + SLACK_PX:
            problems.append(f"outside the figure: {text.get_text()!r}")
        if text.get_fontsize() * scale < MIN_DISPLAY_PT:
            problems.append(f"shown at {text.get_fontsize() * scale:.1f} pt: {text.get_text()!r}")
    titles = [t for t in texts if t is getattr(t.axes, "title", None) or t is getattr(t.figure, "_suptitle", None)]
    for a, b in itertools.combinations(texts, 2):
        if extent[id(a)].overlaps(extent[id(b)]):
            kind = "titles overlap" if a in titles and b in titles else "texts overlap"
            problems.append(f"{kind}: {a.get_text()!r} / {b.get_text()!r}")
    return problems


def test_the_check_sees_overlapping_titles_and_text_outside():
    fig = figures.new_figure(3, 2)
    left, right = fig.subplots(1, 2)
    left.set_title("a title much wider than its panel")
    right.set_title("another wide title here")
    fig.text(1.2, 0.5, "outside")
    problems = layout_problems(fig)
    assert any(p.startswith("titles overlap") for p in problems)
    assert "outside the figure: 'outside'" in problems


@pytest.mark.parametrize("paper", [False, True], ids=["synthetic", "paper-like"])
@pytest.mark.parametrize("name", sorted(catalog.FIGURES))
def test_figure_is_readable_at_report_size(study, name, paper):  # noqa: F811
    table = all_tables(study)[catalog.FIGURES[name].table].data
    if paper:
        table = paper_like(catalog.FIGURES[name].table, table)
    fig = figures.draw(name, table, **options(name, paper))
    assert layout_problems(fig) == []


def test_benchmark_panels_share_one_width(study):  # noqa: F811
    """Panels of the jailbreak group (which also holds the model names) are as wide as the others."""
    data = all_tables(study)["headline"].data
    fig = figures.draw_benchmark_results(data, pairs=ss.PAIRS)
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    widths = [ax.get_window_extent().width / fig.dpi for ax in fig.get_axes() if ax.get_title()]
    assert len(widths) == data["measure"].nunique()
    assert np.ptp(widths) < 0.05 * np.mean(widths), widths
