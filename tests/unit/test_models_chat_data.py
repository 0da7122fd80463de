"""think_in_safety.models.chat_data: deterministic, well-formed, style-consistent, safety-free."""

import json
import re

import pytest

from think_in_safety.models import chat_data
from think_in_safety.models.thought import split_thought

N = 40
THOUGHT_FORMAT = {"direct": "none", "think_tags": "think_tags", "llava_cot_stages": "llava_cot_stages"}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Every style written once with seed 7: {style: (dir, records)}."""
    root = tmp_path_factory.mktemp("chat")
    out = {}
    for style in chat_data.STYLES:
        chat_data.write_chat_data(root / style, style, N, seed=7)
        out[style] = (root / style, json.loads((root / style / "data.json").read_text()))
    return out


def test_deterministic_per_seed(tmp_path, written):
    directory, records = written["think_tags"]
    chat_data.write_chat_data(tmp_path / "again", "think_tags", N, seed=7)
    assert json.loads((tmp_path / "again" / "data.json").read_text()) == records
    for record in records:
        image = record["images"][0]
        assert (tmp_path / "again" / image).read_bytes() == (directory / image).read_bytes()
    chat_data.write_chat_data(tmp_path / "other", "think_tags", N, seed=8)
    assert json.loads((tmp_path / "other" / "data.json").read_text()) != records


@pytest.mark.parametrize("style", chat_data.STYLES)
def test_sharegpt_well_formed(written, style):
    directory, records = written[style]
    assert len(records) == N
    for record in records:
        human, gpt = record["conversations"]
        assert (human["from"], gpt["from"]) == ("human", "gpt")
        assert human["value"].startswith("<image>") and len(human["value"]) > len("<image>")
        assert human["value"].count("<image>") == len(record["images"]) == 1
        assert (directory / record["images"][0]).is_file()
        assert gpt["value"].strip()
    info = json.loads((directory / "dataset_info.json").read_text())
    assert info == {
        f"chat_{style}": {
            "file_name": "data.json",
            "formatting": "sharegpt",
            "columns": {"messages": "conversations", "images": "images"},
            "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt"},
        }
    }


def test_styles_share_questions_answers_and_images(written):
    direct_dir, direct = written["direct"]
    for style in ("think_tags", "llava_cot_stages"):
        directory, records = written[style]
        for plain, reasoned in zip(direct, records):
            assert reasoned["conversations"][0] == plain["conversations"][0]
            assert reasoned["images"] == plain["images"]
            assert (directory / reasoned["images"][0]).read_bytes() == (direct_dir / plain["images"][0]).read_bytes()
            thought, answer, has_thought = split_thought(reasoned["conversations"][1]["value"], THOUGHT_FORMAT[style])
            assert has_thought and thought
            assert answer == plain["conversations"][1]["value"]


def test_thought_formats(written):
    think = re.compile(r"<think>\n[^<]+\n</think>\n[^<]+", re.DOTALL)
    stages = re.compile(
        r"<SUMMARY>[^<]+</SUMMARY>\n\n<CAPTION>[^<]+</CAPTION>\n\n<REASONING>[^<]+</REASONING>\n\n"
        r"<CONCLUSION>[^<]+</CONCLUSION>"
    )
    for record in written["think_tags"][1]:
        assert think.fullmatch(record["conversations"][1]["value"])
    for record in written["llava_cot_stages"][1]:
        assert stages.fullmatch(record["conversations"][1]["value"])


def test_every_kind_appears_and_lists_are_numbered(tmp_path):
    examples = chat_data.make_examples(200, seed=0)
    answers = [example.answer for example in examples]
    assert any(re.fullmatch(r"1\. .+\n2\. .+\n3\. .+", answer) for answer in answers)
    assert any(answer.startswith("The image does not show that; it only shows") for answer in answers)
    assert any(answer.startswith('The image says "') for answer in answers)
    assert len({example.question for example in examples}) > 40


def test_no_safety_content():
    banned = re.compile(
        r"\b(sorry|cannot|can't|unable|harm\w*|illegal|unsafe|safety|danger\w*|weapon\w*|drug\w*|violen\w*|"
        r"policy|refuse\w*|as an ai)\b",
        re.IGNORECASE,
    )
    texts = chat_data.tokenizer_corpus(300, seed=3)
    hits = sorted({match.group(0) for text in texts for match in banned.finditer(text)})
    assert hits == []


def test_unknown_style(tmp_path):
    with pytest.raises(ValueError, match="unknown style"):
        chat_data.write_chat_data(tmp_path, "bogus", 1, 0)
