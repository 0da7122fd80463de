"""Edge cases of think_in_safety.models.thought.split_thought."""

import pytest

from think_in_safety.models.thought import split_thought


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>\nLook at it.\n</think>\nA cat.", ("Look at it.", "A cat.", True)),
        ("  <think>a</think>b  ", ("a", "b", True)),
        ("Look first.\n</think>\nA cat.", ("Look first.", "A cat.", True)),  # template pre-filled <think>
        ("<think>\nstill thinking and cut off", ("still thinking and cut off", "", True)),  # truncated
        ("Just an answer.", ("", "Just an answer.", False)),
        ("<think></think>Answer only.", ("", "Answer only.", False)),  # empty thought
        ("<think>one</think> mid <think>two</think> end", ("one mid two", "end", True)),
        ("", ("", "", False)),
    ],
)
def test_think_tags(text, expected):
    assert split_thought(text, "think_tags") == expected


LLAVA = (
    "<SUMMARY>I will count.</SUMMARY>\n\n<CAPTION>Two dogs.</CAPTION>\n\n"
    "<REASONING>One, two.</REASONING>\n\n<CONCLUSION>There are two dogs.</CONCLUSION>"
)


def test_llava_cot_full():
    assert split_thought(LLAVA, "llava_cot_stages") == (
        "I will count.\n\nTwo dogs.\n\nOne, two.",
        "There are two dogs.",
        True,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # truncated before the conclusion: no answer
        ("<SUMMARY>s</SUMMARY><CAPTION>c</CAPTION><REASONING>r goes on", ("s\n\nc\n\nr goes on", "", True)),
        # conclusion opened but cut off: what was written is the answer
        ("<SUMMARY>s</SUMMARY><CONCLUSION>Partial ans", ("s", "Partial ans", True)),
        # missing stages, lower-case tags and stray whitespace
        ("\n <summary> s </summary>\n<conclusion>\n yes \n</conclusion>\n", ("s", "yes", True)),
        # an unclosed stage ends at the next stage tag
        ("<SUMMARY>s<CAPTION>c</CAPTION><CONCLUSION>a</CONCLUSION>", ("s\n\nc", "a", True)),
        # only a conclusion: an answer without thought
        ("<CONCLUSION>a</CONCLUSION>", ("", "a", False)),
        # no tags at all: all answer
        ("Plain answer.", ("", "Plain answer.", False)),
    ],
)
def test_llava_cot_edge_cases(text, expected):
    assert split_thought(text, "llava_cot_stages") == expected


def test_none_format_keeps_tags_in_answer():
    assert split_thought(" <think>x</think>y ", "none") == ("", "<think>x</think>y", False)


def test_unknown_format():
    with pytest.raises(ValueError, match="unknown thought format"):
        split_thought("x", "bogus")
