"""The fine-tuning path as a user runs it: training sets -> TiS assembly -> LLaMA-Factory check ->
SFT -> '<model>+<set>' evaluated on a benchmark -> the fine-tuning table (tests/e2e/sft_config.yaml)."""

import json

import pandas as pd
import pytest

from think_in_safety.finetuning import FINETUNING_COLUMNS
from think_in_safety.tables import RESPONSE_COLUMNS

from .conftest import REPO
from .test_workflow import snakemake


@pytest.mark.e2e
def test_sft_path_end_to_end(tmp_path):
    config = str(REPO / "tests/e2e/sft_config.yaml")
    snakemake("--cores", "2", "--configfile", config, "--directory", str(tmp_path))

    card = json.loads((tmp_path / "results/tis/dataset_card.json").read_text())
    assert card["records"] > 0 and set(card["composition"]["sources"]) == {"vlguard", "spa_vl"}
    assert "not a language model" in card["provenance"]["writer"]
    records = json.loads((tmp_path / "resources/training_sets/sft/tis_assembled/data.json").read_text())
    assert len(records) == card["records"]
    assert all(r["conversations"][1]["value"].startswith("<think>\n") for r in records)

    converted = json.loads((tmp_path / "resources/training_sets/sft/vlguard/conversion.json").read_text())
    assert converted["records_written"] == converted["records_read"] > 0  # every set is a target
    for training_set in ("tis_assembled",):
        validation = json.loads(
            (tmp_path / f"results/training_sets/validation/tiny-vl-think/{training_set}.json").read_text())
        assert validation["rejected"] == 0 and validation["records"] > 0
        summary = json.loads((tmp_path / f"results/sft/tiny-vl-think+{training_set}.json").read_text())
        assert summary["max_steps"] == 4 and summary["wall_seconds"] > 0
        responses = pd.read_parquet(tmp_path / f"results/responses/tiny-vl-think+{training_set}/mssbench.parquet")
        assert set(RESPONSE_COLUMNS) <= set(responses.columns) and len(responses) > 0
        assert (responses["model"] == f"tiny-vl-think+{training_set}").all()

    table = pd.read_csv(tmp_path / "results/tables/sft_comparison.csv", keep_default_na=False)
    assert list(table.columns) == list(FINETUNING_COLUMNS)
    assert set(table["training_set_label"]) == {"untuned", "TiS"}
    assert {"accuracy", "over_refusal", "thought_share"} <= set(table["metric"])
    assert (tmp_path / "results/tables/sft_comparison.md").read_text().startswith("Values in %")
