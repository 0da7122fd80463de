"""Rule tune_tiny_model: full fine-tuning with llamafactory-cli on the chat data."""
from pathlib import Path

from think_in_safety.logs import rule_log
from think_in_safety.models import chat_data, tuning

with rule_log(snakemake.log[0]):
    output_dir = Path(snakemake.output[0])
    config = tuning.llamafactory_config(
        model_dir=Path(snakemake.input.start),
        dataset_dir=Path(snakemake.input.chat_data),
        dataset_name=chat_data.dataset_names(snakemake.params.style, snakemake.params.aligned),
        output_dir=output_dir,
        template=snakemake.params.template,
        hyper={**snakemake.params.hyper, "device": "cpu"},
    )
    tuning.run_llamafactory(
        config,
        config_path=Path("results/llamafactory") / f"{snakemake.wildcards.model}.yaml",
        log_path=Path(snakemake.log[0]).with_suffix(".llamafactory.log"),
        threads=snakemake.threads,
    )
