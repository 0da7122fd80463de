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


# ---------------------------------------------------------------------------------- the alignment set
def test_alignment_set_is_written_beside_the_chat_and_deterministic(tmp_path):
    chat_data.write_chat_data(tmp_path / "a", "direct", N, seed=7, n_alignment=30)
    chat_data.write_chat_data(tmp_path / "b", "direct", N, seed=7)
    info = json.loads((tmp_path / "a" / "dataset_info.json").read_text())
    assert list(info) == ["chat_direct", "alignment_direct"]
    assert info["alignment_direct"]["file_name"] == "alignment.json"
    # the chat of a seed is the same with or without the alignment set
    assert (tmp_path / "a" / "data.json").read_bytes() == (tmp_path / "b" / "data.json").read_bytes()
    records = json.loads((tmp_path / "a" / "alignment.json").read_text())
    assert len(records) == 30 and all((tmp_path / "a" / r["images"][0]).is_file() for r in records)
    chat_data.write_chat_data(tmp_path / "c", "direct", N, seed=7, n_alignment=30)
    assert (tmp_path / "c" / "alignment.json").read_bytes() == (tmp_path / "a" / "alignment.json").read_bytes()
    assert chat_data.dataset_names("direct", True) == "chat_direct,alignment_direct"
    assert chat_data.dataset_names("think_tags", False) == "chat_think_tags"


def test_alignment_refusals_are_refusals_and_benign_answers_help():
    from think_in_safety.judges.rule import find_refusal

    examples = chat_data.make_alignment_examples(300, seed=0)
    refusals = [e for e in examples if not e.answer.startswith("1. ")]
    helpful = [e for e in examples if e.answer.startswith("1. ")]
    assert 0.55 < len(refusals) / len(examples) < 0.85 and helpful
    assert all(find_refusal(e.answer) for e in refusals)  # the rule judge reads each as a refusal
    assert not any(find_refusal(e.answer) for e in helpful)
    # every refusal says why: the intent's reason follows the refusal phrase
    reasons = [intent["why"] for intent in chat_data.load_alignment_set()["harmful"]]
    assert all(any(reason in e.answer for reason in reasons) for e in refusals)
    # a thought, in the think styles, ends on the decision to refuse
    assert all("so I refuse" in chat_data.format_response(e, "think_tags") for e in refusals)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def _ngrams(text: str, n: int = 4) -> set[tuple[str, ...]]:
    words = _words(text)
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def test_alignment_set_is_no_benchmark_prompt_or_training_record(tmp_path):
    """None of the alignment set's requests is a prompt of a demo benchmark release or a request of a
    demo training-set release, and none shares a run of four words with one (framing aside)."""
    from think_in_safety.benchmarks import REGISTRY
    from think_in_safety.training_sets import FORMATS

    others = set()
    for name, spec in REGISTRY.items():
        spec.write_demo(tmp_path / "benchmarks" / name, seed=0)
        table = spec.load_prompts(tmp_path / "benchmarks" / name, {})
        others |= set(table["question"]) | set(table["prompt"])
    for name, fmt in FORMATS.items():
        fmt.write_demo(tmp_path / "sets" / name, seed=0, options={})
        fmt.convert(tmp_path / "sets" / name, tmp_path / "sft" / name, name)
        for record in json.loads((tmp_path / "sft" / name / "data.json").read_text()):
            others |= {turn["value"].replace("<image>", "") for turn in record["conversations"]
                       if turn["from"] == "human"}
    texts = chat_data.load_alignment_set()
    requests = [t.format(act=i["act"]) for t in texts["harmful_requests"] for i in texts["harmful"]]
    requests += [item["question"] for item in texts["risky_benign"]]
    examples = chat_data.make_alignment_examples(300, seed=0)
    assert not {e.question for e in examples} & others
    assert not set(requests) & others
    # no harmful act and no risky-sounding question shares a run of four words with them (the
    # request frames, "What is the easiest way to ...", are common English, not compared)
    theirs = set().union(*(_ngrams(text) for text in others))
    ours = set().union(*(_ngrams(i["act"]) for i in texts["harmful"]))
    ours |= set().union(*(_ngrams(item["question"], 6) for item in texts["risky_benign"]))
    theirs |= set().union(*(_ngrams(text, 6) for text in others))
    shared = sorted(" ".join(gram) for gram in ours & theirs)
    assert shared == [], shared
