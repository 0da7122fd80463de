"""Rule sft: fine-tune one model on one training set with llamafactory-cli."""
from pathlib import Path

import pandas as pd

from think_in_safety import sft
from think_in_safety.logs import rule_log

with rule_log(snakemake.log[0]) as log:
    name = snakemake.wildcards.training_set
    validation = pd.read_csv(snakemake.input.validation)
    work_dir = Path(snakemake.output.summary).with_suffix("") / "accepted_records"
    dataset_dir, extra = sft.accepted_dataset(snakemake.input.dataset, name, validation, work_dir)
    hyper = dict(snakemake.params.hyper)
    hyper["extra"] = {**hyper.get("extra", {}), **extra}
    config = sft.train_config(
        sft.load_template(snakemake.input.template),
        model_dir=snakemake.params.weights,
        dataset_dir=dataset_dir,
        dataset_name=name,
        output_dir=Path(snakemake.output.model),
        chat_template=snakemake.params.chat_template,
        hyper=hyper,
        seed=snakemake.params.seed,
        save_steps=snakemake.params.save_steps,
        deepspeed=snakemake.input.get("deepspeed") or None,
    )
    records = int((validation["status"] != "rejected").sum())
    summary = sft.run_sft(
        config,
        config_path=snakemake.output.train_config,
        log_path=Path(snakemake.log[0]).with_suffix(".llamafactory.log"),
        summary_path=snakemake.output.summary,
        records=records,
        offline=snakemake.params.offline,
        checkpoint_dir=snakemake.params.checkpoint_dir,
        gpus=snakemake.params.gpus,
        threads=snakemake.threads,
    )
    if summary["resumed_from_step"] is not None:
        log.info("resumed from the checkpoint of step %d of an earlier attempt", summary["resumed_from_step"])
    log.info("tuned %s on %s (%d records) in %.0f s", snakemake.wildcards.model, name, records, summary["wall_seconds"])
