"""Check a training set with LLaMA-Factory's own dataset code before anything trains on it.

The train YAML the SFT rule will use is parsed by LLaMA-Factory's ``get_train_args``; the
model's tokenizer and processor are loaded by its ``load_tokenizer``; the set is read as its
loader reads it (``dataset_info.json`` -> ``datasets`` JSON loading) and every record goes
through its ``SharegptDatasetConverter`` and its ``SupervisedDatasetProcessor`` (the template's
multimodal plugin validates the ``<image>`` count and opens and sizes every image). A record it
would drop or fail on is reported with its index and LLaMA-Factory's own reason; a record longer
than ``cutoff_len`` is counted as truncated (LLaMA-Factory trains on its first tokens).

Output: a table (``index``, ``status`` = ok / rejected / truncated, ``reason``, ``tokens``) and a
summary; :func:`raise_if_rejected` fails when the rejected share exceeds what the config allows.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pandas as pd

VALIDATION_COLUMNS = {
    "index": "0-based position of the record in data.json",
    "status": "'ok', 'rejected' (LLaMA-Factory would drop it or fail on it) or 'truncated' (longer than cutoff_len)",
    "reason": "LLaMA-Factory's own message for a rejected record ('' when ok)",
    "tokens": "encoded length (text + image tokens) of an accepted record; -1 when rejected",
}


class _Capture(logging.Handler):
    """Collects LLaMA-Factory's warnings while one record is converted."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _short(message: str, limit: int = 300) -> str:
    message = " ".join(str(message).split())
    return message if len(message) <= limit else message[: limit - 3] + "..."


def validate_set(train_config: dict) -> tuple[pd.DataFrame, dict]:
    """Validate the dataset named in ``train_config`` (a LLaMA-Factory train config dict).

    Returns the per-record table (:data:`VALIDATION_COLUMNS`) and a summary dict.
    """
    os.environ.setdefault("DISABLE_VERSION_CHECK", "1")
    from datasets import load_dataset
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.data.converter import get_dataset_converter
    from llamafactory.data.loader import _get_dataset_processor
    from llamafactory.data.parser import get_dataset_list
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer

    # the same arguments as the training run, read one record at a time in this process
    config = {**train_config, "preprocessing_num_workers": None, "overwrite_cache": True}
    model_args, data_args, training_args, _, _ = get_train_args(config)
    tokenizer_module = load_tokenizer(model_args)
    template = get_template_and_fix_tokenizer(tokenizer_module["tokenizer"], data_args)
    (attr,) = get_dataset_list([config["dataset"]], data_args.dataset_dir)
    converter = get_dataset_converter(attr.formatting, attr, data_args)
    processor = _get_dataset_processor(data_args, "sft", template, tokenizer_module["tokenizer"],
                                       tokenizer_module["processor"])
    data_path = Path(data_args.dataset_dir) / attr.dataset_name
    summary = {"dataset": config["dataset"], "dataset_dir": str(data_args.dataset_dir),
               "template": config["template"], "model": str(config["model_name_or_path"]),
               "cutoff_len": data_args.cutoff_len}
    try:
        raw = load_dataset("json", data_files=str(data_path), split="train")
    except Exception as error:  # the whole file is unreadable: one row saying why
        table = pd.DataFrame([{"index": -1, "status": "rejected", "reason": _short(f"file not loadable: {error}"),
                               "tokens": -1}])
        return table, {**summary, "records": 0, "rejected": 1, "truncated": 0, "ok": 0, "file_error": True}

    capture = _Capture()
    converter_logger = logging.getLogger("llamafactory.data.converter")
    converter_logger.addHandler(capture)
    rows = []
    try:
        for index, example in enumerate(raw):
            capture.messages.clear()
            aligned = converter(example)
            prompt, response = aligned["_prompt"], aligned["_response"]
            if len(prompt) % 2 != 1 or len(response) != 1:  # SupervisedDatasetProcessor drops these
                reason = "; ".join(m for m in capture.messages if "Skipping" not in m) or "invalid example"
                rows.append({"index": index, "status": "rejected", "reason": _short(reason), "tokens": -1})
                continue
            try:
                input_ids, _ = processor._encode_data_example(
                    prompt=prompt, response=response, system=aligned["_system"], tools=aligned["_tools"],
                    images=aligned["_images"] or [], videos=aligned["_videos"] or [],
                    audios=aligned["_audios"] or [])
            except Exception as error:
                rows.append({"index": index, "status": "rejected",
                             "reason": _short(f"{type(error).__name__}: {error}"), "tokens": -1})
                continue
            status = "truncated" if len(input_ids) >= data_args.cutoff_len else "ok"
            rows.append({"index": index, "status": status, "reason": "", "tokens": len(input_ids)})
    finally:
        converter_logger.removeHandler(capture)
    table = pd.DataFrame(rows, columns=list(VALIDATION_COLUMNS))
    counts = table["status"].value_counts()
    summary.update(records=len(table), ok=int(counts.get("ok", 0)), truncated=int(counts.get("truncated", 0)),
                   rejected=int(counts.get("rejected", 0)), file_error=False)
    return table, summary


def raise_if_rejected(summary: dict, table: pd.DataFrame, max_rejected_share: float, report_path: str) -> None:
    """Fail, naming the first rejected records, when too many records would be rejected."""
    records = max(summary.get("records", 0), 1)
    share = summary.get("rejected", 0) / records
    if summary.get("file_error") or summary.get("records", 0) == 0 or share > max_rejected_share:
        shown = table[table["status"] == "rejected"].head(5)
        examples = "\n".join(f"  record {row.index}: {row.reason}" for row in shown.itertuples())
        raise ValueError(
            f"LLaMA-Factory would reject {summary.get('rejected', 0)} of {summary.get('records', 0)} records of "
            f"{summary['dataset']} ({share:.1%}, allowed {max_rejected_share:.1%}; sft.max_rejected_share):\n"
            f"{examples}\nFull list: {report_path}. Fix the source data or its converter.")


def write_validation(table: pd.DataFrame, summary: dict, csv_path: str | Path, json_path: str | Path) -> None:
    Path(csv_path).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(csv_path, index=False)
    Path(json_path).write_text(json.dumps(summary, indent=2), encoding="utf-8")
