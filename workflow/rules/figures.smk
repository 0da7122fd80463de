# Study tables and figures: one rule each. `table` writes every study table (CSV + Markdown +
# LaTeX booktabs, results/tables/) and `figure` draws every figure (PNG + SVG, results/figures/)
# from its table's CSV only, so every plotted number is in a file next to it. Which tables and
# figures there are, what each is built from, its caption and its place in both reports:
# think_in_safety.catalog. Logic: think_in_safety.study_tables (numbers), think_in_safety.figures
# (drawing). A new figure is one catalog entry, one drawing function and one caption file.


rule table:
    """One study table of the catalog, by its builder in think_in_safety.study_tables; an
    optional table this configuration does not make (fine-tuning, TiS) is empty and says why.
    """
    input:
        unpack(lookup(dpath="{table}", within=STUDY_TABLE_INPUTS)),
    output:
        csv=report(
            "results/tables/{table}.csv",
            category="Tables",
            subcategory=table_subcategory,
            labels=table_labels,
            caption="../report/from_catalog.rst",
        ),
        md="results/tables/{table}.md",
        tex="results/tables/{table}.tex",
    log:
        "logs/table/{table}.log",
    benchmark:
        "benchmarks/table/{table}.tsv"
    wildcard_constraints:
        table=alternatives(STUDY_TABLES),
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        **SMALL_JOB,
    params:
        options=table_options,
        caption=table_caption,
    script:
        "../scripts/table.py"


rule figure:
    """One figure of the catalog, drawn from its table's CSV by its function in
    think_in_safety.figures; an empty table gives a figure that says why."""
    input:
        table=figure_table_input,
    output:
        png=report(
            "results/figures/{figure}.png",
            category="Figures",
            subcategory=figure_subcategory,
            labels=figure_labels,
            caption="../report/from_catalog.rst",
        ),
        svg="results/figures/{figure}.svg",
    log:
        "logs/figure/{figure}.log",
    benchmark:
        "benchmarks/figure/{figure}.tsv"
    wildcard_constraints:
        figure=alternatives(STUDY_FIGURES),
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        **SMALL_JOB,
    params:
        options=figure_options,
        caption=figure_caption,
    script:
        "../scripts/figure.py"
