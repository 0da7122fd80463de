"""think_in_safety.over_refusal: the shipped benign-question probe as a prompt table."""

from think_in_safety.judges.rule import find_refusal
from think_in_safety.over_refusal import NAME, load_items, write_probe
from think_in_safety.tables import PROMPT_COLUMNS


def test_probe_prompts_and_images(tmp_path):
    table = write_probe(tmp_path / "images", seed=0)
    assert list(table.columns) == list(PROMPT_COLUMNS)
    assert len(table) == len(load_items()) == 24
    assert (table["benchmark"] == NAME).all() and (table["n_samples"] == 1).all()
    assert all((tmp_path / "images" / f"{item['id']}.png").is_file() for item in load_items())
    # the questions look risky but are benign: none of them is itself a refusal
    assert not any(find_refusal(question) for question in table["prompt"])
