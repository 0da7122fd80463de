# Figures and the tables they are drawn from. Each table is its own target (CSV + Markdown +
# LaTeX booktabs, results/tables/), each figure too (PNG + SVG, results/figures/), and a figure
# is drawn from its table's CSV only, so every plotted number is in a file next to it.
# Logic: think_in_safety.study_tables (numbers) and think_in_safety.figures (drawing); helpers
# (which tables, figures and inputs) in common.smk.

# --- tables -------------------------------------------------------------------------------


rule table_safety_variation:
    """Each reasoning model's change in safety against its base, with paired CIs."""
    input:
        "results/tables/collapse.csv",
    output:
        csv=report(
            "results/tables/safety_variation.csv",
            category="Tables",
            subcategory="1 Safety variation",
            labels={"table": "safety variation"},
            caption="../report/safety_variation.rst",
        ),
        md="results/tables/safety_variation.md",
        tex="results/tables/safety_variation.tex",
    log:
        "logs/table_safety_variation/table.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        **SMALL_JOB,
    params:
        models=MODELS,
    script:
        "../scripts/table_safety_variation.py"


rule table_headline:
    """Every model's headline metric on every benchmark, with CIs."""
    input:
        "results/tables/benchmark_metrics.csv",
    output:
        csv=report(
            "results/tables/headline.csv",
            category="Tables",
            subcategory="2 Results per benchmark",
            labels={"table": "headline metrics"},
            caption="../report/benchmark_results.rst",
        ),
        md="results/tables/headline.md",
        tex="results/tables/headline.tex",
    log:
        "logs/table_headline/table.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        **SMALL_JOB,
    params:
        models=MODELS,
    script:
        "../scripts/table_headline.py"


rule table_categories:
    """One benchmark's metric per model and category."""
    input:
        metrics_of_benchmark,
    output:
        csv=report(
            "results/tables/categories/{benchmark}.csv",
            category="Tables",
            subcategory="2 Results per benchmark",
            labels={"table": "categories", "benchmark": "{benchmark}"},
            caption="../report/categories.rst",
        ),
        md="results/tables/categories/{benchmark}.md",
        tex="results/tables/categories/{benchmark}.tex",
    log:
        "logs/table_categories/{benchmark}.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        **SMALL_JOB,
    params:
        models=MODELS,
    script:
        "../scripts/table_categories.py"


rule table_thought_length:
    """Judged safety binned by thought length, per reasoning model and benchmark family."""
    input:
        prompts=expand("results/prompts/{benchmark}.parquet", benchmark=BENCHMARKS),
        responses=expand(
            "results/responses/{model}/{benchmark}.parquet",
            model=thinking_models(),
            benchmark=BENCHMARKS,
        ),
        judgments=answer_judgments_of_thinkers(),
    output:
        csv=report(
            "results/tables/thought_length.csv",
            category="Tables",
            subcategory="3 Thought length",
            labels={"table": "thought length vs safety"},
            caption="../report/thought_length.rst",
        ),
        md="results/tables/thought_length.md",
        tex="results/tables/thought_length.tex",
    log:
        "logs/table_thought_length/table.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        **SMALL_JOB,
    params:
        models=MODELS,
        n_bins=THOUGHT_LENGTH_BINS,
    script:
        "../scripts/table_thought_length.py"


rule table_thought_vs_answer:
    """Thought verdicts against answer verdicts; empty when no judge judges thoughts."""
    input:
        prompts=expand("results/prompts/{benchmark}.parquet", benchmark=BENCHMARKS),
        answer_judgments=answer_judgments_of_thinkers() if thought_judges() else [],
        thought_judgments=thought_judgments(),
    output:
        csv=report(
            "results/tables/thought_vs_answer.csv",
            category="Tables",
            subcategory="4 Thought vs answer",
            labels={"table": "thought vs answer"},
            caption="../report/thought_vs_answer.rst",
        ),
        md="results/tables/thought_vs_answer.md",
        tex="results/tables/thought_vs_answer.tex",
    log:
        "logs/table_thought_vs_answer/table.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        **SMALL_JOB,
    params:
        models=MODELS,
    script:
        "../scripts/table_thought_vs_answer.py"


rule table_finetuning:
    """Untuned vs fine-tuned models (<model>+<set>): safety beside over-refusal, from the
    fine-tuning comparison (sft.smk); empty when this configuration fine-tunes nothing.
    """
    input:
        finetuning_comparison(),
    output:
        csv=report(
            "results/tables/finetuning.csv",
            category="Tables",
            subcategory="5 Fine-tuning",
            labels={"table": "fine-tuning comparison"},
            caption="../report/finetuning.rst",
        ),
        md="results/tables/finetuning.md",
        tex="results/tables/finetuning.tex",
    log:
        "logs/table_finetuning/table.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        **SMALL_JOB,
    params:
        models=MODELS,
    script:
        "../scripts/table_finetuning.py"


rule table_tis_composition:
    """The TiS dataset card as counts; empty when this configuration builds no TiS dataset."""
    input:
        tis_dataset_card(),
    output:
        csv=report(
            "results/tables/tis_composition.csv",
            category="Tables",
            subcategory="6 TiS dataset",
            labels={"table": "TiS composition"},
            caption="../report/tis_composition.rst",
        ),
        md="results/tables/tis_composition.md",
        tex="results/tables/tis_composition.tex",
    log:
        "logs/table_tis_composition/table.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        **SMALL_JOB,
    script:
        "../scripts/table_tis_composition.py"


# --- figures ------------------------------------------------------------------------------


rule figure_safety_variation:
    """The headline figure: safety change of every reasoning model against its base."""
    input:
        table="results/tables/safety_variation.csv",
    output:
        png=report(
            "results/figures/safety_variation.png",
            category="Figures",
            subcategory="1 Safety variation",
            labels={"figure": "safety variation"},
            caption="../report/safety_variation.rst",
        ),
        svg="results/figures/safety_variation.svg",
    log:
        "logs/figure_safety_variation/figure.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        **SMALL_JOB,
    params:
        figure="safety_variation",
        options={},
    script:
        "../scripts/figure.py"


rule figure_benchmark_results:
    """Every model's headline metric per benchmark, with CIs."""
    input:
        table="results/tables/headline.csv",
    output:
        png=report(
            "results/figures/benchmark_results.png",
            category="Figures",
            subcategory="2 Results per benchmark",
            labels={"figure": "headline metrics"},
            caption="../report/benchmark_results.rst",
        ),
        svg="results/figures/benchmark_results.svg",
    log:
        "logs/figure_benchmark_results/figure.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        **SMALL_JOB,
    params:
        figure="benchmark_results",
        options={"pairs": reasoning_pairs(config)},
    script:
        "../scripts/figure.py"


rule figure_categories:
    """Heatmap of one benchmark: models x categories."""
    input:
        table="results/tables/categories/{benchmark}.csv",
    output:
        png=report(
            "results/figures/categories/{benchmark}.png",
            category="Figures",
            subcategory="2 Results per benchmark",
            labels={"figure": "categories", "benchmark": "{benchmark}"},
            caption="../report/categories.rst",
        ),
        svg="results/figures/categories/{benchmark}.svg",
    log:
        "logs/figure_categories/{benchmark}.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        **SMALL_JOB,
    params:
        figure="categories",
        options={},
    script:
        "../scripts/figure.py"


rule figure_thought_length:
    """Judged safety by thought length, one panel per reasoning model."""
    input:
        table="results/tables/thought_length.csv",
    output:
        png=report(
            "results/figures/thought_length.png",
            category="Figures",
            subcategory="3 Thought length",
            labels={"figure": "thought length vs safety"},
            caption="../report/thought_length.rst",
        ),
        svg="results/figures/thought_length.svg",
    log:
        "logs/figure_thought_length/figure.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        **SMALL_JOB,
    params:
        figure="thought_length",
        options={},
    script:
        "../scripts/figure.py"


rule figure_thought_vs_answer:
    """How often an unsafe thought precedes a safe answer and the reverse."""
    input:
        table="results/tables/thought_vs_answer.csv",
    output:
        png=report(
            "results/figures/thought_vs_answer.png",
            category="Figures",
            subcategory="4 Thought vs answer",
            labels={"figure": "thought vs answer"},
            caption="../report/thought_vs_answer.rst",
        ),
        svg="results/figures/thought_vs_answer.svg",
    log:
        "logs/figure_thought_vs_answer/figure.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        **SMALL_JOB,
    params:
        figure="thought_vs_answer",
        options={},
    script:
        "../scripts/figure.py"


rule figure_finetuning:
    """Untuned vs fine-tuned: safety beside over-refusal."""
    input:
        table="results/tables/finetuning.csv",
    output:
        png=report(
            "results/figures/finetuning.png",
            category="Figures",
            subcategory="5 Fine-tuning",
            labels={"figure": "fine-tuning comparison"},
            caption="../report/finetuning.rst",
        ),
        svg="results/figures/finetuning.svg",
    log:
        "logs/figure_finetuning/figure.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        **SMALL_JOB,
    params:
        figure="finetuning",
        options={},
    script:
        "../scripts/figure.py"


rule figure_finetuning_tradeoff:
    """Safety vs over-refusal scatter of the fine-tuned variants."""
    input:
        table="results/tables/finetuning.csv",
    output:
        png=report(
            "results/figures/finetuning_tradeoff.png",
            category="Figures",
            subcategory="5 Fine-tuning",
            labels={"figure": "safety vs over-refusal"},
            caption="../report/finetuning_tradeoff.rst",
        ),
        svg="results/figures/finetuning_tradeoff.svg",
    log:
        "logs/figure_finetuning_tradeoff/figure.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        **SMALL_JOB,
    params:
        figure="finetuning_tradeoff",
        options={},
    script:
        "../scripts/figure.py"


rule figure_tis_composition:
    """TiS dataset composition: sources, categories, decisions, filter drops."""
    input:
        table="results/tables/tis_composition.csv",
    output:
        png=report(
            "results/figures/tis_composition.png",
            category="Figures",
            subcategory="6 TiS dataset",
            labels={"figure": "TiS composition"},
            caption="../report/tis_composition.rst",
        ),
        svg="results/figures/tis_composition.svg",
    log:
        "logs/figure_tis_composition/figure.log",
    conda:
        "../../envs/figures.yaml"
    threads: 1
    resources:
        **SMALL_JOB,
    params:
        figure="tis_composition",
        options={},
    script:
        "../scripts/figure.py"
