"""Rule build_tiny_tokenizer: a byte-level BPE trained on the chat data's text (both datasets)."""
import json
from pathlib import Path

from think_in_safety.logs import rule_log
from think_in_safety.models import zoo

with rule_log(snakemake.log[0]):
    corpus = []
    for data_dir in snakemake.input:  # every dataset of the folder: the chat and the alignment set
        for entry in json.loads((Path(data_dir) / "dataset_info.json").read_text()).values():
            for record in json.loads((Path(data_dir) / entry["file_name"]).read_text()):
                corpus.extend(turn["value"] for turn in record["conversations"])
    zoo.build_tokenizer(corpus, Path(snakemake.output[0]), vocab_size=snakemake.params.vocab_size)
