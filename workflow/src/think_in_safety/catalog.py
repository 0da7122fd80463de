"""The catalog of the study's tables and figures: the one place that lists them.

Every study table (``study_tables``, written as CSV, Markdown and LaTeX under
``results/tables/``) and every figure (``figures``, PNG and SVG under ``results/figures/``) is an
entry here, with what it is built from, how ``snakemake --report`` files it and which section of
the HTML report shows it. The rules (``workflow/rules/figures.smk``: one ``table`` and one
``figure`` rule, each with a wildcard constrained to the names below), the rule scripts, the
drawing code and the report all read this module, so a new figure is one :class:`Figure` entry,
one drawing function in ``figures.py`` and one caption file in ``workflow/report/``.

The Snakefile imports this module while it plans the run, so it imports only the standard library:
builders and drawing functions are named here and looked up by the scripts that run them.

Per-benchmark entries (``per_benchmark=True``) have one instance per benchmark of the run, named
``<name>/<benchmark>`` (``categories/siuo``): their files are ``results/tables/categories/siuo.csv``
and ``results/figures/categories/siuo.png``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Group:
    """A section of the HTML report (its figures with their table) and the subcategory the same
    files have in ``snakemake --report``."""

    id: str  # the section's HTML id
    number: str  # "Figure <number>" in the report
    title: str  # the section's heading
    short: str  # the subcategory in snakemake --report: "<number> <short>"

    @property
    def subcategory(self) -> str:
        return f"{self.number} {self.short}"


@dataclass(frozen=True)
class Table:
    """A study table: ``study_tables.<builder>(**inputs, **options)``.

    ``reads`` maps each builder argument to what the rule's input of that name holds: ``csv`` (one
    table, or none: the argument is then None), ``json`` (one document, or none) or ``parquet``
    (any number of per-benchmark tables, concatenated). ``options`` names the builder's other
    keyword arguments, which the rule passes as params (``model_order``, ``n_bins``, ``benchmark``).
    """

    name: str
    builder: str
    reads: dict[str, str]
    group: str
    label: str  # its label in snakemake --report
    caption: str  # workflow/report/<caption>.rst
    description: str
    options: tuple[str, ...] = ("model_order",)
    per_benchmark: bool = False


@dataclass(frozen=True)
class Figure:
    """A figure: ``figures.<drawer>(table, **options)`` on the CSV of ``table``."""

    name: str
    table: str
    drawer: str
    group: str
    label: str  # its label in snakemake --report
    caption: str  # workflow/report/<caption>.rst
    title: str  # the title of the figure that says why its table is empty
    description: str
    options: tuple[str, ...] = field(default=())
    per_benchmark: bool = False


#: the report's figure groups, in the report's order
GROUPS = (
    Group("safety-variation", "1", "Safety variation: reasoning models against their base models", "Safety variation"),
    Group("benchmark-results", "2", "Results per benchmark and model", "Results per benchmark"),
    Group("thought-length", "3", "Thought length and safety", "Thought length"),
    Group("thought-vs-answer", "4", "Thought against answer", "Thought vs answer"),
    Group("finetuning", "5", "Fine-tuning: untuned, +VLGuard, +MIS, +SPA-VL, +TiS", "Fine-tuning"),
    Group("tis-composition", "6", "The TiS dataset", "TiS dataset"),
)

READERS = ("csv", "json", "parquet")

TABLES = {
    table.name: table
    for table in (
        Table("safety_variation", "safety_variation", {"comparison": "csv"}, "safety-variation",
              "safety variation", "safety_variation",
              "Each reasoning model's change in safety against its base, with paired CIs."),
        Table("headline", "headline", {"metrics": "csv"}, "benchmark-results", "headline metrics",
              "benchmark_results", "Every model's headline metric on every benchmark, with CIs."),
        Table("categories", "categories", {"metrics": "parquet"}, "benchmark-results", "categories",
              "categories", "One benchmark's metric per model and category.",
              options=("benchmark", "model_order"), per_benchmark=True),
        Table("thought_length", "thought_length",
              {"responses": "parquet", "judgments": "parquet", "prompts": "parquet"}, "thought-length",
              "thought length vs safety", "thought_length",
              "Judged safety binned by thought length, per reasoning model and benchmark family.",
              options=("n_bins", "model_order")),
        Table("thought_vs_answer", "thought_vs_answer",
              {"answer_judgments": "parquet", "thought_judgments": "parquet", "prompts": "parquet"},
              "thought-vs-answer", "thought vs answer", "thought_vs_answer",
              "Thought verdicts against answer verdicts; empty when no judge judges thoughts."),
        Table("finetuning", "finetuning", {"comparison": "csv"}, "finetuning", "fine-tuning comparison",
              "finetuning", "Untuned vs fine-tuned models (<model>+<set>): safety beside over-refusal; "
              "empty when this configuration fine-tunes nothing."),
        Table("tis_composition", "tis_composition", {"card": "json"}, "tis-composition", "TiS composition",
              "tis_composition", "The TiS dataset card as counts; empty when no TiS dataset is built.",
              options=()),
    )
}

FIGURES = {
    figure.name: figure
    for figure in (
        Figure("safety_variation", "safety_variation", "draw_safety_variation", "safety-variation",
               "safety variation", "safety_variation", "Safety of reasoning models vs base models",
               "The headline figure: safety change of every reasoning model against its base."),
        Figure("benchmark_results", "headline", "draw_benchmark_results", "benchmark-results",
               "headline metrics", "benchmark_results", "Headline metric of every model",
               "Every model's headline metric per benchmark, with CIs.", options=("pairs",)),
        Figure("categories", "categories", "draw_categories", "benchmark-results", "categories",
               "categories", "Per-category results", "Heatmap of one benchmark: models x categories.",
               per_benchmark=True),
        Figure("thought_length", "thought_length", "draw_thought_length", "thought-length",
               "thought length vs safety", "thought_length", "Judged safety by thought length",
               "Judged safety by thought length, one panel per reasoning model."),
        Figure("thought_vs_answer", "thought_vs_answer", "draw_thought_vs_answer", "thought-vs-answer",
               "thought vs answer", "thought_vs_answer", "Thought verdict against answer verdict",
               "How often an unsafe thought precedes a safe answer and the reverse."),
        Figure("finetuning", "finetuning", "draw_finetuning", "finetuning", "fine-tuning comparison",
               "finetuning", "Fine-tuning: safety beside over-refusal",
               "Untuned vs fine-tuned: safety beside over-refusal."),
        Figure("finetuning_tradeoff", "finetuning", "draw_finetuning_tradeoff", "finetuning",
               "safety vs over-refusal", "finetuning_tradeoff", "Safety vs over-refusal after fine-tuning",
               "Safety vs over-refusal scatter of the fine-tuned variants."),
        Figure("tis_composition", "tis_composition", "draw_tis_composition", "tis-composition",
               "TiS composition", "tis_composition", "TiS dataset composition",
               "TiS dataset composition: sources, categories, decisions, filter drops."),
    )
}


# ------------------------------------------------------------------------------------------------
# instances: the names of the files of one run
# ------------------------------------------------------------------------------------------------
def _instances(entries, benchmarks) -> list[str]:
    return [name for entry in entries.values()
            for name in ([f"{entry.name}/{b}" for b in benchmarks] if entry.per_benchmark else [entry.name])]


def table_names(benchmarks) -> list[str]:
    """Every table of a run with ``benchmarks``: ``results/tables/<name>.csv``."""
    return _instances(TABLES, benchmarks)


def figure_names(benchmarks) -> list[str]:
    """Every figure of a run with ``benchmarks``: ``results/figures/<name>.png``."""
    return _instances(FIGURES, benchmarks)


def _entry(entries, kind: str, instance: str):
    name, _, benchmark = instance.partition("/")
    entry = entries.get(name)
    if entry is None or entry.per_benchmark != bool(benchmark):
        known = ", ".join(f"{n}/<benchmark>" if e.per_benchmark else n for n, e in entries.items())
        raise ValueError(f"unknown {kind} {instance!r}; known: {known} (think_in_safety/catalog.py)")
    return entry


def table_of(instance: str) -> Table:
    """The entry of table ``instance`` (``headline``, ``categories/siuo``)."""
    return _entry(TABLES, "table", instance)


def figure_of(instance: str) -> Figure:
    """The entry of figure ``instance`` (``benchmark_results``, ``categories/siuo``)."""
    return _entry(FIGURES, "figure", instance)


def benchmark_of(instance: str) -> str | None:
    """The benchmark of a per-benchmark instance (``categories/siuo`` -> ``siuo``), else None."""
    return instance.partition("/")[2] or None


def figure_table(instance: str) -> str:
    """The table instance figure ``instance`` is drawn from (``categories/siuo`` -> ``categories/siuo``)."""
    figure, benchmark = figure_of(instance), benchmark_of(instance)
    return f"{figure.table}/{benchmark}" if benchmark else figure.table


# ------------------------------------------------------------------------------------------------
# groups: the report's sections and snakemake --report's subcategories
# ------------------------------------------------------------------------------------------------
def group(group_id: str) -> Group:
    for candidate in GROUPS:
        if candidate.id == group_id:
            return candidate
    raise ValueError(f"unknown group {group_id!r}; known: {', '.join(g.id for g in GROUPS)}")


def group_figures(group_id: str) -> list[str]:
    """The figures a report section shows, in catalog order (per-benchmark figures are shown in
    each benchmark's own section instead)."""
    return [f.name for f in FIGURES.values() if f.group == group_id and not f.per_benchmark]


def group_table(group_id: str) -> str:
    """The table a report section shows under its figures."""
    tables = [t.name for t in TABLES.values() if t.group == group_id and not t.per_benchmark]
    if len(tables) != 1:
        raise ValueError(f"group {group_id!r} needs exactly one table that is not per benchmark; has {tables}")
    return tables[0]


def report_labels(kind: str, instance: str) -> dict[str, str]:
    """The labels of a file in snakemake --report: ``{kind: label}``, plus the benchmark."""
    entry = table_of(instance) if kind == "table" else figure_of(instance)
    benchmark = benchmark_of(instance)
    return {kind: entry.label, **({"benchmark": benchmark} if benchmark else {})}


def check() -> None:
    """Every entry names a known group, reader and table (the unit tests call this)."""
    groups = {g.id for g in GROUPS}
    for entry in [*TABLES.values(), *FIGURES.values()]:
        if entry.group not in groups:
            raise ValueError(f"{entry.name}: unknown group {entry.group!r}; known: {sorted(groups)}")
    for table in TABLES.values():
        unknown = sorted(set(table.reads.values()) - set(READERS))
        if unknown:
            raise ValueError(f"table {table.name}: unknown readers {unknown}; known: {READERS}")
    for figure in FIGURES.values():
        table = TABLES.get(figure.table)
        if table is None or table.per_benchmark != figure.per_benchmark:
            raise ValueError(f"figure {figure.name}: table {figure.table!r} is not a catalog table "
                             "of the same kind (per benchmark or not)")
    for g in GROUPS:
        group_table(g.id)
