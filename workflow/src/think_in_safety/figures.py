"""The study's figures, each drawn from one table of ``study_tables`` (so every plotted number
is in a CSV next to it), in one style: seaborn's whitegrid, DejaVu Sans, and the colour-blind-
safe "colorblind" palette (Okabe-Ito hues). Colour always means the same thing:

* safety change: vermillion = the reasoning model is less safe, blue = safer, grey = no change;
  a filled marker = the 95% CI of the change excludes 0;
* model roles: blue = base model, orange = reasoning model, green = fine-tuned model;
* heatmaps: darker = less safe, whatever the metric's direction.

Figures are built on :class:`matplotlib.figure.Figure` without pyplot (no global state, no GUI
backend) and saved as PNG and SVG with fixed metadata, so reruns give identical files.
An empty table gives a figure that says why (``study_tables.EMPTY_REASONS``).
"""

from __future__ import annotations

import contextlib
import math
import re
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.textpath import TextToPath

from think_in_safety import catalog
from think_in_safety import study_tables as st

PALETTE = sns.color_palette("colorblind")  # 10 Okabe-Ito-like hues
BLUE, ORANGE, GREEN, VERMILLION, PURPLE, BROWN, PINK, GREY, YELLOW, SKY = PALETTE.as_hex()
CHANGE_COLORS = {"worse": VERMILLION, "better": BLUE, "same": GREY}
ROLE_COLORS = {"base": BLUE, "reasoning": ORANGE, "tuned": GREEN}
THOUGHT_ANSWER_COLORS = {
    "both_safe": SKY, "unsafe_thought_safe_answer": GREEN, "safe_thought_unsafe_answer": ORANGE,
    "both_unsafe": PURPLE,
}
TUNING_COLORS = [GREY, BLUE, PURPLE, BROWN, GREEN, SKY, ORANGE, PINK, YELLOW, VERMILLION]
MARKERS = ["o", "s", "D", "^", "v", "P", "X", "<", ">", "h"]

STYLE_RC = {
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 9.5,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "figure.titlesize": 11,
    "figure.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "think-in-safety",  # stable element ids: identical SVG on rerun
    "savefig.dpi": 200,
}
PNG_METADATA = {"Software": None}
SVG_METADATA = {"Date": None, "Creator": None}
FULL_WIDTH = 7.5  # inches: a page-wide figure, readable at the report's width
# Every title, label and legend must fit where it is drawn at the size the report shows the figure
# (96 CSS px per inch, up to the page's width: tests/unit/test_figure_layout.py), so panel widths,
# title wrapping and legend columns are computed from the widths of the texts themselves.
PANEL_MIN_WIDTH = 1.2  # inches: the narrowest panel of a row of benchmark panels
PANEL_PAD = 0.3  # inches of a panel's width its title leaves free (overhanging tick labels, gaps)
LABEL_PAD = 0.08  # inches beside the widest row label (tick marks, padding)
FIGURE_PAD = 0.3  # inches of a figure's width outside its panels and row labels
AXIS_LABEL_WIDTH = 0.75  # inches left of a panel for its y axis' label and tick labels (0-100)
LEGEND_ENTRY_PAD = 0.65  # inches of a legend column besides its text: marker, spacing
TEXT_SLACK = 1.06  # drawn text is a little wider than its outline's advance (hinting)


@contextlib.contextmanager
def figure_style():
    """The one style of every figure of the study."""
    with sns.axes_style("whitegrid"), sns.plotting_context("paper"), mpl.rc_context(STYLE_RC):
        yield


def new_figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def fix_layout(fig: Figure) -> None:
    """Lay the figure out once, at the PNG's resolution, and keep that layout with every position
    rounded. The constrained layout's solver varies in the last bits of its result from run to
    run (the order it meets its variables in), and SVG ids are hashes of exact clip boxes, so a
    figure laid out anew for each file would not give the same SVG twice."""
    fig.set_dpi(STYLE_RC["savefig.dpi"])
    fig.draw_without_rendering()

    def fix(figure) -> None:
        for subfigure in figure.subfigs:
            subfigure.bbox_relative.set_points(np.round(subfigure.bbox_relative.get_points(), 9))
            fix(subfigure)
        for ax in figure.axes:
            ax.set_position(np.round(ax.get_position().bounds, 9), which="both")

    fix(fig)
    fig.set_layout_engine("none")


def save_figure(fig: Figure, png: str | Path, svg: str | Path) -> None:
    """PNG (200 dpi) and SVG, laid out once (:func:`fix_layout`), with no timestamps in the files."""
    for path in (png, svg):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    with mpl.rc_context(STYLE_RC):
        fix_layout(fig)
        fig.savefig(png, format="png", metadata=PNG_METADATA)
        fig.savefig(svg, format="svg", metadata=SVG_METADATA)


def placeholder(title: str, message: str) -> Figure:
    """A small figure that says what is missing (so the target always exists)."""
    with figure_style():
        fig = new_figure(FULL_WIDTH, 1.3)
        fig.suptitle(title)
        fig.text(0.5, 0.4, message, ha="center", va="center", wrap=True, color="#444444")
    return fig


_TEXT_PATH = TextToPath()


def text_width(text: str, size: float) -> float:
    """Width in inches of the widest line of ``text`` drawn in the figures' font at ``size`` pt."""
    font = FontProperties(family=STYLE_RC["font.family"], size=size)
    widths = [_TEXT_PATH.get_text_width_height_descent(line, font, ismath=False)[0] if line else 0.0
              for line in str(text).split("\n")]
    return TEXT_SLACK * max(widths) / 72


def wrap(text: str, width: float, size: float) -> str:
    """``text`` broken into lines at most ``width`` inches wide at ``size`` pt: at spaces, and a
    word wider than that after its hyphens, underscores or plus signs (model names)."""
    pieces = []
    for word in str(text).split():
        parts = [word] if text_width(word, size) <= width else re.findall(r"[^-_+]*[-_+]|[^-_+]+$", word)
        pieces += [(" " if i == 0 else "", part) for i, part in enumerate(parts)]
    lines: list[str] = []
    for separator, piece in pieces:
        if lines and text_width(lines[-1] + separator + piece, size) <= width:
            lines[-1] += separator + piece
        else:
            lines.append(piece)
    return "\n".join(lines)


def legend_columns(labels, width: float, size: float = STYLE_RC["legend.fontsize"], most: int = 6) -> int:
    """The most columns (at most ``most``) a legend of ``labels`` can have and fit in ``width``
    inches. Matplotlib fills the columns one after the other, the first ones one entry longer
    when the entries do not divide evenly."""
    labels = list(labels)
    for columns in range(min(most, len(labels)), 1, -1):
        sizes = [len(labels) // columns + (i < len(labels) % columns) for i in range(columns)]
        starts = np.cumsum([0, *sizes])
        chunks = [labels[a:b] for a, b in zip(starts[:-1], starts[1:])]
        if sum(max(text_width(label, size) for label in chunk) + LEGEND_ENTRY_PAD for chunk in chunks) <= width:
            return columns
    return 1


def _legend(fig: Figure, handles, most: int = 6) -> None:
    """The figure's legend below its panels, in as many columns as fit its width."""
    columns = legend_columns([h.get_label() for h in handles], fig.get_figwidth() - FIGURE_PAD, most=most)
    fig.legend(handles=handles, loc="outside lower center", ncols=columns, frameon=False)


def _panel_row(words, row_labels, n_panels: int, title_size: float, min_width: float = FULL_WIDTH):
    """A row of ``n_panels`` panels sharing row labels on the left: (figure width, panel width,
    label width) in inches. Each panel is wide enough for the widest of ``words`` (what a title
    line may not break) and at least :data:`PANEL_MIN_WIDTH`; the figure is at least ``min_width``."""
    label = max(text_width(label, STYLE_RC["ytick.labelsize"]) for label in row_labels) + LABEL_PAD
    panel = max(PANEL_MIN_WIDTH, max(text_width(word, title_size) for word in words) + PANEL_PAD)
    width = max(min_width, label + n_panels * panel + FIGURE_PAD)
    return width, (width - label - FIGURE_PAD) / n_panels, label


def _pp(values) -> np.ndarray:
    return 100.0 * np.asarray(values, dtype=float)


def _families(frame: pd.DataFrame) -> list[str]:
    present = list(dict.fromkeys(frame["family"]))
    return sorted(present, key=lambda f: st.FAMILY_ORDER.index(f) if f in st.FAMILY_ORDER else 9)


def _family_panels(fig: Figure, frame: pd.DataFrame, key: str = "measure", panel: float = 1.0, label: float = 0.0):
    """Subfigures per benchmark family (titled), each with one axes per ``key`` value, all
    sharing the y axis. The first family's subfigure also holds the row labels (``label``
    inches), so every panel gets the same width (``panel``). Yields ``(family, value, axes,
    is_first)``."""
    families = _families(frame)
    counts = [frame.loc[frame["family"] == f, key].nunique() for f in families]
    ratios = [count * panel + (label if i == 0 else 0.0) for i, count in enumerate(counts)]
    subfigures = np.atleast_1d(fig.subfigures(1, len(families), width_ratios=ratios, wspace=0.02))
    first = True
    shared = None
    for family, subfig in zip(families, subfigures):
        subfig.suptitle(st.family_title(family).capitalize(), fontsize=10, fontweight="bold")
        values = list(dict.fromkeys(frame.loc[frame["family"] == family, key]))
        axes = np.atleast_1d(subfig.subplots(1, len(values), sharey=False))
        for value, ax in zip(values, axes):
            if shared is None:
                shared = ax
            else:
                ax.sharey(shared)
                ax.tick_params(labelleft=False)
            yield family, value, ax, first
            first = False


def _rows(ax, labels: list[str]) -> dict[str, int]:
    """Categorical y axis with the first label on top."""
    positions = {label: i for i, label in enumerate(labels)}
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.grid(axis="y", visible=False)
    return positions


def _title(measure: str, note: str, width: float, size: float) -> str:
    """A panel title: the measure wrapped to ``width`` inches, then a note."""
    return wrap(measure, width, size) + f"\n{note}"


def _direction(change: float) -> str:
    if not np.isfinite(change) or abs(change) < 1e-12:
        return "same"
    return "worse" if change < 0 else "better"


# ------------------------------------------------------------------------------------------------
# 1. safety variation (the headline figure)
# ------------------------------------------------------------------------------------------------
def draw_safety_variation(data: pd.DataFrame) -> Figure:
    """Safety change of each reasoning model against its base, per benchmark headline metric,
    grouped by family; whiskers: paired-bootstrap 95% CI; filled: CI excludes 0."""
    data = data.assign(pair=data["reasoning_model"] + "\nvs " + data["base_model"])
    if data["judge"].nunique() > 1:
        data = data.assign(pair=data["pair"] + "\n(" + data["judge"] + ")")
    pairs = list(dict.fromkeys(data["pair"]))
    bounds = np.abs(_pp(data[["safety_change", "safety_change_ci_low", "safety_change_ci_high"]].to_numpy()))
    limit = max(5.0, math.ceil(np.nanmax(bounds, initial=0.0) / 5.0) * 5.0 + 2.0)
    measures = list(dict.fromkeys(data["measure"]))
    notes = {m: f"({'higher' if data.loc[data['measure'] == m, 'higher_is_safer'].iloc[0] else 'lower'} is safer)"
             for m in measures}
    width, panel, label = _panel_row([w for m in measures for w in m.split()] + list(notes.values()), pairs,
                                     len(measures), title_size=9)
    with figure_style():
        fig = new_figure(width, 0.5 * len(pairs) + 2.0)
        for _, measure, ax, first in _family_panels(fig, data, panel=panel, label=label):
            rows = data[data["measure"] == measure]
            positions = _rows(ax, pairs)
            ax.axvline(0, color="#333333", lw=0.9, zorder=1)
            for row in rows.to_dict("records"):
                y = positions[row["pair"]]
                x, low, high = _pp([row["safety_change"], row["safety_change_ci_low"], row["safety_change_ci_high"]])
                color = CHANGE_COLORS[_direction(row["safety_change"])]
                ax.errorbar(x, y, xerr=[[max(x - low, 0)], [max(high - x, 0)]] if np.isfinite(low) else None,
                            fmt="o", ms=7, color=color, mfc=color if row["significant"] else "white",
                            mew=1.6, elinewidth=1.6, capsize=3, zorder=3)
            ax.set_xlim(-limit, limit)
            ax.set_title(_title(measure, notes[measure], panel - PANEL_PAD, 9), fontsize=9)
            ax.set_xlabel("safety change (pp)")
            if not first:
                ax.set_ylabel("")
        handles = [
            Line2D([], [], marker="o", ls="", color=VERMILLION, mfc=VERMILLION, label="less safe than base"),
            Line2D([], [], marker="o", ls="", color=BLUE, mfc=BLUE, label="safer than base"),
            Line2D([], [], marker="o", ls="", color=GREY, mfc=GREY, label="no change"),
            Line2D([], [], marker="o", ls="", color="#333333", mfc="white", label="95% CI includes 0"),
        ]
        _legend(fig, handles, most=4)
        fig.suptitle("Safety of reasoning models relative to their base models")
    return fig


# ------------------------------------------------------------------------------------------------
# 2. every model on every benchmark; category heatmaps
# ------------------------------------------------------------------------------------------------
def model_roles(models, pairs: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` / ``reasoning`` / ``tuned`` for each model (``pairs``: reasoning -> base)."""
    pairs = pairs or {}
    return {m: "tuned" if st.split_tuned(m) else "reasoning" if m in pairs else "base" for m in models}


def draw_benchmark_results(data: pd.DataFrame, pairs: dict[str, str] | None = None) -> Figure:
    """Every model's headline metric per benchmark with its 95% CI; colour = role."""
    data = data.copy()
    if data["judge"].nunique() > 1:
        data["model"] = data["model"] + " (" + data["judge"] + ")"
    models = list(dict.fromkeys(data["model"]))
    roles = model_roles(models, pairs)
    measures = list(dict.fromkeys(data["measure"]))
    titles = {m: f"{m} (%)" for m in measures}
    notes = {m: f"{'higher' if data.loc[data['measure'] == m, 'higher_is_safer'].iloc[0] else 'lower'} is safer"
             for m in measures}
    width, panel, label = _panel_row([w for t in titles.values() for w in t.split()] + list(notes.values()), models,
                                     len(measures), title_size=9)
    with figure_style():
        fig = new_figure(width, 0.32 * len(models) + 2.0)
        for _, measure, ax, _first in _family_panels(fig, data, panel=panel, label=label):
            rows = data[data["measure"] == measure]
            positions = _rows(ax, models)
            for row in rows.to_dict("records"):
                x, low, high = _pp([row["value"], row["ci_low"], row["ci_high"]])
                color = ROLE_COLORS[roles[row["model"]]]
                ax.errorbar(x, positions[row["model"]],
                            xerr=[[max(x - low, 0)], [max(high - x, 0)]] if np.isfinite(low) else None,
                            fmt="o", ms=6, color=color, elinewidth=1.6, capsize=3, zorder=3)
            ax.set_xlim(-4, 104)
            ax.set_title(_title(titles[measure], notes[measure], panel - PANEL_PAD, 9), fontsize=9)
            ax.set_xlabel("%")
        present = [r for r in ("base", "reasoning", "tuned") if r in roles.values()]
        handles = [Line2D([], [], marker="o", ls="", color=ROLE_COLORS[r], label=f"{r} model") for r in present]
        _legend(fig, handles)
        fig.suptitle("Headline metric of every model on every benchmark (95% CI)")
    return fig


def draw_categories(data: pd.DataFrame) -> Figure:
    """Models x categories of one benchmark, value in % in each cell; darker = less safe."""
    data = data.copy()
    if data["judge"].nunique() > 1:
        data["model"] = data["model"] + " (" + data["judge"] + ")"
    benchmark = data["benchmark"].iloc[0]
    metric = data["metric"].iloc[0]
    higher = bool(data["higher_is_safer"].iloc[0])
    models = list(dict.fromkeys(data["model"]))
    groups = sorted(data["group"].unique())
    grid = data.pivot_table(index="model", columns="group", values="value", aggfunc="first").reindex(
        index=models, columns=groups) * 100
    # rocket_r: light = low, dark = high. ASR: high is unsafe -> dark; safe rate: flip it.
    cmap = "rocket" if higher else "rocket_r"
    label_width = max(len(m) for m in models) * 0.07
    with figure_style():
        fig = new_figure(max(5.0, 0.55 * len(groups) + 2.4 + label_width), 0.45 * len(models) + 2.8)
        ax = fig.add_subplot()
        sns.heatmap(grid, ax=ax, vmin=0, vmax=100, cmap=cmap, annot=True, fmt=".0f", linewidths=0.5,
                    linecolor="white", annot_kws={"fontsize": 9.5},
                    cbar_kws={"label": f"{st.METRIC_TITLES.get(metric, metric)} (%)", "shrink": 0.9})
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.tick_params(axis="x", labelrotation=45)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
        ax.tick_params(axis="y", labelrotation=0)
        ax.grid(False)
        fig.suptitle(f"{st.benchmark_title(benchmark)}: {st.METRIC_TITLES.get(metric, metric)} per category\n"
                     f"({'higher' if higher else 'lower'} is safer; darker = less safe)")
    return fig


# ------------------------------------------------------------------------------------------------
# 3. thought length vs safety
# ------------------------------------------------------------------------------------------------
FAMILY_COLORS = {"jailbreak": VERMILLION, "awareness": BLUE}
FAMILY_MARKERS = {"jailbreak": "o", "awareness": "s"}
PANELS_PER_ROW = 4


def draw_thought_length(data: pd.DataFrame) -> Figure:
    """Small multiples, one panel per reasoning model: judged-safe share per thought-length bin
    (x: median tokens of the bin), one line per benchmark family; whiskers: Wilson 95% CI."""
    data = data.copy()
    if data["judge"].nunique() > 1:
        data["model"] = data["model"] + " (" + data["judge"] + ")"
    models = list(dict.fromkeys(data["model"]))
    families = _families(data)
    columns = min(PANELS_PER_ROW, len(models))
    rows_n = math.ceil(len(models) / columns)
    width = FULL_WIDTH if columns > 1 else 4.5
    # a model's name and the x label wrap to the panel: the width left of the y axis' label and ticks
    title_width = (width - AXIS_LABEL_WIDTH - FIGURE_PAD) / columns - PANEL_PAD
    with figure_style():
        fig = new_figure(width, 2.5 * rows_n + 1.0)
        axes = np.atleast_1d(fig.subplots(rows_n, columns, sharex=True, sharey=True, squeeze=False)).ravel()
        for model, ax in zip(models, axes):
            part = data[data["model"] == model]
            for family in families:
                family_rows = part[part["family"] == family].sort_values("bin")
                color, marker = FAMILY_COLORS.get(family, GREY), FAMILY_MARKERS.get(family, "D")
                # bins with a thought joined by a line; "no thought" (bin 0) a hollow marker at 0
                for rows, line, face in ((family_rows[family_rows["bin"] > 0], 1.5, color),
                                         (family_rows[family_rows["bin"] == 0], 0, "white")):
                    if rows.empty:
                        continue
                    x = rows["tokens_median"].to_numpy(dtype=float)
                    y, low, high = (_pp(rows[c]) for c in ("safe_share", "ci_low", "ci_high"))
                    ax.errorbar(x, y, yerr=[np.maximum(y - low, 0), np.maximum(high - y, 0)], color=color,
                                marker=marker, mfc=face, ms=5, capsize=2.5, lw=line)
            ax.set_title(wrap(model, title_width, STYLE_RC["axes.titlesize"]))
            ax.set_ylim(-4, 104)
        for ax in axes[len(models):]:
            ax.set_visible(False)
        for i, ax in enumerate(axes[: len(models)]):
            ax.set_xlim(left=min(-5.0, ax.get_xlim()[0]))
            if i + columns >= len(models):  # the lowest panel of its column
                ax.set_xlabel(wrap("thought tokens (bin median)", title_width, STYLE_RC["axes.labelsize"]))
                ax.tick_params(labelbottom=True)
            if i % columns == 0:
                ax.set_ylabel("judged safe (%)")
        handles = [Line2D([], [], color=FAMILY_COLORS.get(f, GREY), marker=FAMILY_MARKERS.get(f, "D"),
                          label=st.family_title(f) + " benchmarks") for f in families]
        if (data["bin"] == 0).any():
            handles.append(Line2D([], [], color="#555555", marker="o", mfc="white", ls="", label="no thought"))
        _legend(fig, handles)
        fig.suptitle("Judged safety by thought length (95% CI)")
    return fig


# ------------------------------------------------------------------------------------------------
# 4. thought vs answer
# ------------------------------------------------------------------------------------------------
def draw_thought_vs_answer(data: pd.DataFrame) -> Figure:
    """Per model and family: shares of the four (thought, answer) verdict combinations."""
    cells = list(st.THOUGHT_ANSWER_CELLS)
    counts = [f"n_{c}" for c in cells]
    data = data.copy()
    if data["thought_judge"].nunique() > 1:
        data["model"] = data["model"] + " (" + data["thought_judge"] + ")"
    totals = data.groupby(["family", "model"], sort=False)[counts + ["n"]].sum().reset_index()
    models = list(dict.fromkeys(data["model"]))
    families = _families(totals)
    with figure_style():
        fig = new_figure(FULL_WIDTH, 0.45 * len(models) + 2.1)
        axes = np.atleast_1d(fig.subplots(1, len(families), sharey=True))
        for family, ax in zip(families, axes):
            part = totals[totals["family"] == family].set_index("model").reindex(models)
            positions = _rows(ax, models)
            left = np.zeros(len(models))
            for cell, column in zip(cells, counts):
                with np.errstate(invalid="ignore", divide="ignore"):
                    share = np.nan_to_num(100 * part[column].to_numpy(dtype=float) / part["n"].to_numpy(dtype=float))
                ax.barh(list(positions.values()), share, left=left, color=THOUGHT_ANSWER_COLORS[cell],
                        edgecolor="white", height=0.7, label=st.THOUGHT_ANSWER_CELLS[cell])
                for y, (x0, width) in enumerate(zip(left, share)):
                    if width >= 8:
                        ax.text(x0 + width / 2, y, f"{width:.0f}", ha="center", va="center", fontsize=8)
                left += share
            for y, n in enumerate(part["n"].fillna(0).astype(int)):
                ax.text(101, y, f"n={n}", va="center", fontsize=7.5, color="#444444")
            ax.set_xlim(0, 112)
            ax.set_xlabel("responses (%)")
            ax.set_title(st.family_title(family).capitalize())
        handles = [mpl.patches.Patch(color=THOUGHT_ANSWER_COLORS[c], label=st.THOUGHT_ANSWER_CELLS[c]) for c in cells]
        _legend(fig, handles, most=2)
        fig.suptitle("Thought verdict against answer verdict")
    return fig


# ------------------------------------------------------------------------------------------------
# 5. fine-tuning comparison
# ------------------------------------------------------------------------------------------------
def _tunings(labels) -> list[str]:
    """Tuning labels in the table's order, the untuned model first."""
    labels = list(dict.fromkeys(labels))
    return sorted(labels, key=lambda t: t != st.UNTUNED)


def _tuning_colors(labels) -> dict[str, str]:
    """Grey for the untuned model, then the palette's hues in the table's order."""
    tuned = [t for t in _tunings(labels) if t != st.UNTUNED]
    hues = [c for c in TUNING_COLORS if c != GREY]
    return {st.UNTUNED: GREY, **{t: hues[i % len(hues)] for i, t in enumerate(tuned)}}


def draw_finetuning(data: pd.DataFrame) -> Figure:
    """Each headline safety metric, over-refusal measure, the thought share and the mean thought
    length in tokens (one panel each, four per row), per reasoning model (rows) and fine-tuning
    set (colour), with 95% CIs; a filled marker on a fine-tuned model: its paired CI of the
    change from the untuned model excludes 0."""
    untuned = list(dict.fromkeys(data["untuned_model"]))
    tunings = _tunings(data["tuning"])
    colors = _tuning_colors(tunings)
    offsets = {t: (i - (len(tunings) - 1) / 2) * (0.8 / max(len(tunings), 1)) for i, t in enumerate(tunings)}
    measures = list(dict.fromkeys(data["measure"]))
    columns = min(PANELS_PER_ROW, len(measures))
    rows_n = math.ceil(len(measures) / columns)
    panel_height = 0.3 * len(untuned) * len(tunings) + 1.3
    # the first column also holds the model names
    label = max(text_width(m, STYLE_RC["ytick.labelsize"]) for m in untuned) + LABEL_PAD
    title_width = (FULL_WIDTH - label - FIGURE_PAD) / columns - PANEL_PAD
    with figure_style():
        fig = new_figure(FULL_WIDTH, panel_height * rows_n + 0.8)
        axes = np.atleast_1d(fig.subplots(rows_n, columns, sharey=True, squeeze=False)).ravel()
        for i, (measure, ax) in enumerate(zip(measures, axes)):
            rows = data[data["measure"] == measure]
            tokens = rows["metric"].isin(st.TOKEN_METRICS).any()  # a length, not a share
            positions = _rows(ax, untuned)
            for row in rows.to_dict("records"):
                values = [row["value"], row["ci_low"], row["ci_high"]]
                x, low, high = np.asarray(values, dtype=float) if tokens else _pp(values)
                if not np.isfinite(x):  # e.g. no response kept a thought: no length to show
                    continue
                y = positions[row["untuned_model"]] + offsets[row["tuning"]]
                color = colors[row["tuning"]]
                filled = row["tuning"] == st.UNTUNED or bool(row["significant"])
                ax.errorbar(x, y, xerr=[[max(x - low, 0)], [max(high - x, 0)]] if np.isfinite(low) else None,
                            fmt="o", ms=5.5, color=color, mfc=color if filled else "white", mew=1.4,
                            elinewidth=1.5, capsize=2.5)
            kind = rows["kind"].iloc[0]
            direction = "higher" if bool(rows["higher_is_safer"].iloc[0]) else "lower"
            note = f"{direction} is {'safer' if kind == 'safety' else 'better'}"
            ax.set_title(_title(f"{measure} ({'tokens' if tokens else '%'})", note, title_width, 8.5), fontsize=8.5)
            if tokens:  # no finite length at all when no response kept a thought
                lengths = rows[["value", "ci_high"]].to_numpy(dtype=float)
                ax.set_xlim(0, 1.1 * max(lengths[np.isfinite(lengths)].max(initial=1.0), 1.0))
            else:
                ax.set_xlim(-4, 104)
            if i % columns:
                ax.tick_params(labelleft=False)
        for ax in axes[len(measures):]:
            ax.set_visible(False)
        handles = [Line2D([], [], marker="o", ls="", color=colors[t], label=t) for t in tunings]
        handles.append(Line2D([], [], marker="o", ls="", color="#333333", mfc="white",
                              label="change from untuned: 95% CI includes 0"))
        _legend(fig, handles, most=4)
        fig.suptitle("Fine-tuning: safety beside over-refusal and thought retention (95% CI)")
    return fig


def draw_finetuning_tradeoff(data: pd.DataFrame) -> Figure:
    """Mean safety score of each benchmark family against over-refusal, one point per model
    variant; grey lines join an untuned model to its fine-tuned variants."""
    points = st.tradeoff_points(data).dropna(subset=["safety"])
    if points.empty or points["over_refusal"].isna().all():
        return placeholder("Safety vs over-refusal", "No over-refusal measure in the fine-tuning comparison "
                           "(MSSBench's safe-image half or the benign-question probe is needed).")
    if points["judge"].nunique() > 1:
        points = points.assign(untuned_model=points["untuned_model"] + " (" + points["judge"] + ")")
    colors = _tuning_colors(points["tuning"])
    untuned = list(dict.fromkeys(points["untuned_model"]))
    markers = {u: MARKERS[i % len(MARKERS)] for i, u in enumerate(untuned)}
    families = _families(points)
    with figure_style():
        fig = new_figure(FULL_WIDTH, 3.6)
        axes = np.atleast_1d(fig.subplots(1, len(families), sharex=True, sharey=True))
        for family, ax in zip(families, axes):
            part = points[points["family"] == family]
            for model_name, rows in part.groupby("untuned_model", sort=False):
                origin = rows[rows["tuning"] == st.UNTUNED]
                for row in rows.to_dict("records"):
                    if not origin.empty and row["tuning"] != st.UNTUNED:
                        ax.plot(_pp([origin["over_refusal"].iloc[0], row["over_refusal"]]),
                                _pp([origin["safety"].iloc[0], row["safety"]]), color="#bbbbbb", lw=1, zorder=1)
                for row in rows.to_dict("records"):
                    ax.scatter(_pp([row["over_refusal"]]), _pp([row["safety"]]), s=55, zorder=3,
                               color=colors[row["tuning"]], marker=markers[model_name], edgecolor="white")
            ax.set_xlim(-4, 104)
            ax.set_ylim(-4, 104)
            ax.set_title(st.family_title(family).capitalize())
            ax.set_xlabel("over-refusal (%) — lower is better")
            ax.annotate("safer, refuses less", xy=(0.02, 0.97), xycoords="axes fraction", fontsize=7.5,
                        color="#555555", va="top")
        axes[0].set_ylabel("mean safety score (%)\nhigher is safer")
        handles = [Line2D([], [], marker="o", ls="", color=colors[t], label=t) for t in colors]
        handles += [Line2D([], [], marker=markers[u], ls="", color="#555555", label=u) for u in untuned]
        _legend(fig, handles)
        fig.suptitle("Safety vs over-refusal after fine-tuning")
    return fig


# ------------------------------------------------------------------------------------------------
# 6. TiS composition
# ------------------------------------------------------------------------------------------------
MAX_ITEMS = 12


def draw_tis_composition(data: pd.DataFrame) -> Figure:
    """Horizontal bars of records per item, one panel per facet (the largest items, the rest summed)."""
    facets = list(dict.fromkeys(data["facet"]))
    columns = min(2, len(facets))
    rows_n = math.ceil(len(facets) / columns)
    heights = [min(MAX_ITEMS + 1, (data["facet"] == f).sum()) for f in facets]
    with figure_style():
        fig = new_figure(FULL_WIDTH,
                         sum(0.28 * max(heights[i:i + columns]) + 0.9 for i in range(0, len(facets), columns))
                         + 0.6)
        axes = np.atleast_1d(fig.subplots(rows_n, columns, squeeze=False)).ravel()
        for facet, ax in zip(facets, axes):
            part = data[data["facet"] == facet].sort_values("count", ascending=False)
            if len(part) > MAX_ITEMS:
                rest = part.iloc[MAX_ITEMS - 1:]
                part = pd.concat([part.iloc[: MAX_ITEMS - 1], pd.DataFrame([{
                    "facet": facet, "item": f"{len(rest)} others", "count": rest["count"].sum(),
                    "share": rest["share"].sum()}])])
            positions = _rows(ax, list(part["item"]))
            ax.barh(list(positions.values()), part["count"], color=BLUE, height=0.7)
            for y, (count, share) in enumerate(zip(part["count"], part["share"])):
                shown = f" {count}" + (f" ({100 * share:.0f}%)" if np.isfinite(share) else "")
                ax.text(count, y, shown, va="center", fontsize=8)
            ax.set_xlim(0, part["count"].max() * 1.35 if part["count"].max() > 0 else 1)
            ax.set_title(facet)
            ax.set_xlabel("records")
        for ax in axes[len(facets):]:
            ax.set_visible(False)
        fig.suptitle("TiS dataset composition")
    return fig


# ------------------------------------------------------------------------------------------------
# entry points (the figures themselves are listed in think_in_safety.catalog)
# ------------------------------------------------------------------------------------------------
def read_table(path: str | Path) -> pd.DataFrame:
    """A study table's CSV (empty strings kept as '', not NaN, in text columns)."""
    frame = pd.read_csv(path)
    for column in ("group", "bin_label", "item"):
        if column in frame.columns:
            frame[column] = frame[column].fillna("").astype(str)
    return frame


def draw(name: str, table: pd.DataFrame, **options) -> Figure:
    """Figure ``name`` of :data:`catalog.FIGURES` from its table, by the drawing function the
    catalog names; a placeholder saying why when the table is empty."""
    if name not in catalog.FIGURES:
        raise ValueError(f"unknown figure {name!r}; known: {sorted(catalog.FIGURES)}")
    entry = catalog.FIGURES[name]
    if table.empty:
        return placeholder(entry.title, st.EMPTY_REASONS.get(entry.table, "no data").capitalize() + ".")
    return globals()[entry.drawer](table, **options)


def make_figure(name: str, table_csv: str | Path, png: str | Path, svg: str | Path, **options) -> None:
    """Read the table, draw figure ``name``, write PNG and SVG (the rule script's entry point)."""
    save_figure(draw(name, read_table(table_csv), **options), png, svg)
