"""think_in_safety.models.thought: the first three formats exactly as before, a realistic response
of every preset, generations cut off by max_new_tokens, thoughts opened by the chat template,
inline formats and writing a served reasoning back in a format."""

import pytest
import yaml

from think_in_safety.models.thought import (
    INLINE_KEYS,
    PRESETS,
    THOUGHT_FORMATS,
    MarkedFormat,
    split_thought,
    thought_format_of,
)

from ..conftest import REPO


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


# ------------------------------------------------------------------ the registry of formats

#: A realistic finished response of every preset, in the style its models write, and its split.
REALISTIC = {
    "none": (
        ("I can't help with making explosives. If you are interested in chemistry, a supervised lab course is a "
        "safe way to learn."),
        ("", ("I can't help with making explosives. If you are interested in chemistry, a supervised lab course "
             "is a safe way to learn."), False),
    ),
    "think_tags": (
        ("<think>\nThe image shows a list titled 'Steps to pick a lock'. The user wants me to fill it in, which "
        "would help break into a home.\n</think>\n\nI can't provide lock-picking steps for entering someone "
        "else's property."),
        (("The image shows a list titled 'Steps to pick a lock'. The user wants me to fill it in, which would "
         "help break into a home."),
         "I can't provide lock-picking steps for entering someone else's property.", True),
    ),
    "think_answer_tags": (
        ("<think> The picture is a pill bottle next to a glass of wine. Mixing sedatives with alcohol is "
        "dangerous, so I should warn. </think> <answer> Please don't combine these: alcohol strengthens the "
        "sedative effect. Ask a pharmacist. </answer>"),
        (("The picture is a pill bottle next to a glass of wine. Mixing sedatives with alcohol is dangerous, so I "
         "should warn."),
         "Please don't combine these: alcohol strengthens the sedative effect. Ask a pharmacist.", True),
    ),
    "think_tags_opened": (  # the chat template wrote '<think>\n': the text starts inside the thought
        ("Okay, the user shows a photo of a cliff edge and asks how to take the best selfie there.\nSafety first."
        "\n</think>\n\nStay well back from the edge; use a timer from a safe spot."),
        ("Okay, the user shows a photo of a cliff edge and asks how to take the best selfie there.\nSafety first.",
         "Stay well back from the edge; use a timer from a safe spot.", True),
    ),
    "kimi_think": (
        ("◁think▷The image shows a stove with a pan of oil on fire. Water would spread burning oil.◁/think▷"
        "Do not pour water on it. Turn off the heat and cover the pan with a lid."),
        ("The image shows a stove with a pan of oil on fire. Water would spread burning oil.",
         "Do not pour water on it. Turn off the heat and cover the pan with a lid.", True),
    ),
    "llava_cot_stages": (LLAVA, ("I will count.\n\nTwo dogs.\n\nOne, two.", "There are two dogs.", True)),
    "mulberry_final_answer": (
        ("### Image Description:\nA kitchen knife on a cutting board.\n\n### Rationales:\nThe question asks how to "
        "sharpen it.\n\n### Let's think step by step.\n\n### Step 1:\nUse a whetstone at about 20 degrees.\n\n"
        "### The final answer is: Hold the blade at 20 degrees and stroke it across a whetstone."),
        (("### Image Description:\nA kitchen knife on a cutting board.\n\n### Rationales:\nThe question asks how to "
         "sharpen it.\n\n### Let's think step by step.\n\n### Step 1:\nUse a whetstone at about 20 degrees."),
         "Hold the blade at 20 degrees and stroke it across a whetstone.", True),
    ),
    "qvq_final_answer": (
        ("So I've got this image of a chemistry set, and the question is what the beaker holds. The label says "
        "NaCl, so it's table salt.\n\n**Final Answer**\n\n\\[ \\boxed{\\text{Table salt}} \\]"),
        (("So I've got this image of a chemistry set, and the question is what the beaker holds. The label says "
         "NaCl, so it's table salt."), "\\[ \\boxed{\\text{Table salt}} \\]", True),
    ),
}


def test_every_preset_has_a_realistic_example():
    """A new preset must come with an example here, and the schema's enum lists the registry."""
    assert set(REALISTIC) == set(PRESETS) == set(THOUGHT_FORMATS)
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    choices = schema["$defs"]["model"]["properties"]["thought_format"]["oneOf"]
    assert choices[0]["enum"] == list(THOUGHT_FORMATS)
    assert set(choices[1]["properties"]) == set(INLINE_KEYS)


@pytest.mark.parametrize("name", sorted(REALISTIC))
def test_realistic_response_of_every_preset(name):
    text, expected = REALISTIC[name]
    assert split_thought(text, name) == expected


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        # cut off by max_new_tokens inside the thought: all thought, no answer, has_thought True
        ("think_answer_tags", "<think> Let me look at the label. It reads",
         ("Let me look at the label. It reads", "", True)),
        ("kimi_think", "◁think▷The user asks about the pills and I need to",
         ("The user asks about the pills and I need to", "", True)),
        ("think_tags_opened", "Okay, the image shows a cliff and I", ("Okay, the image shows a cliff and I", "", True)),
        # cut off inside the answer: what was written is the answer
        ("think_answer_tags", "<think>risky</think><answer>Please do not", ("risky", "Please do not", True)),
        # the answer marker without a close of the thought ends the thought
        ("think_answer_tags", "<think>warn them <answer>No.</answer>", ("warn them", "No.", True)),
        # a finished response without any marker: the model answered without thinking
        ("think_answer_tags", "I cannot help with that.", ("", "I cannot help with that.", False)),
        ("mulberry_final_answer", "I'm sorry, I can't help with that.",
         ("", "I'm sorry, I can't help with that.", False)),
        ("qvq_final_answer", "Let me think about this request", ("", "Let me think about this request", False)),
        # only the answer tags: an answer without thought
        ("think_answer_tags", "<answer>Yes.</answer>", ("", "Yes.", False)),
        # QVQ's other spelling, and the last final-answer marker wins
        ("qvq_final_answer", "a\n**Final Answer:** 3", ("a", "3", True)),
        ("mulberry_final_answer", "### Step 1: x\n### The final answer is: 2\n### The final answer is: 4",
         ("### Step 1: x\n### The final answer is: 2", "4", True)),
    ],
)
def test_cut_off_and_unmarked_responses(name, text, expected):
    assert split_thought(text, name) == expected


def test_thought_opened_by_the_template_differs_from_one_the_model_must_open():
    """Without a close marker, only a template-opened thought is a thought (the model was inside it)."""
    text = "the road is icy so I should"
    assert split_thought(text, "think_tags_opened") == (text, "", True)
    assert split_thought(text, "think_tags") == ("", text, False)
    # with the close marker both read the same thought
    assert split_thought("icy\n</think>\nDrive slowly.", "think_tags_opened") == ("icy", "Drive slowly.", True)
    assert split_thought("icy\n</think>\nDrive slowly.", "think_tags") == ("icy", "Drive slowly.", True)


def test_inline_format_from_the_registry():
    """A model may spell out its markers (models.<m>.thought_format as a mapping)."""
    spec = {"thought_open": "[THINK]", "thought_close": "[/THINK]", "final_answer": "Answer:"}
    text = "[THINK]two plus two[/THINK] Working shown. Answer: 4"
    assert split_thought(text, spec) == ("two plus two\nWorking shown.", "4", True)
    assert split_thought("[THINK]still going", spec) == ("still going", "", True)
    lower = {**spec, "ignore_case": True}
    assert split_thought("[think]x[/think] answer: 5", lower) == ("x", "5", True)
    assert split_thought("[think]x[/think] answer: 5", spec) == ("", "[think]x[/think] answer: 5", False)
    # an inline spelling of a preset's markers splits exactly as the preset
    inline = {"thought_open": "<think>", "thought_close": "</think>",
              "answer_open": "<answer>", "answer_close": "</answer>"}
    for text, expected in [REALISTIC["think_answer_tags"]]:
        assert split_thought(text, inline) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"thought_open": "<t>"}, "has no thought_close"),
        ({"answer_close": "</a>"}, "needs an answer_open"),
        ({"opened_by_template": True}, "needs a marker that ends the thought"),
        ({"thought_close": "</t>", "colour": "red"}, "unknown keys"),
        ({"thought_close": 3}, "must be a string"),
        (["<t>", "</t>"], "preset name or a mapping"),
        ("think", "unknown thought format 'think'"),
    ],
)
def test_bad_formats_name_the_problem(spec, message):
    with pytest.raises(ValueError, match=message):
        thought_format_of(spec)


@pytest.mark.parametrize("name", sorted(n for n in PRESETS if PRESETS[n].holds_thought))
@pytest.mark.parametrize("finished", [True, False])
def test_join_then_split_gives_the_thought_and_answer_back(name, finished):
    """A thought served apart from its answer (an API's reasoning field), written in the format,
    splits back into the same parts; cut off while thinking, the answer stays empty."""
    fmt = PRESETS[name]
    answer = "Turn off the heat." if finished else ""
    text = fmt.join("Oil fire: water would spread it.", answer, finished)
    if not finished and name in ("mulberry_final_answer", "qvq_final_answer"):
        # no open marker and no final-answer marker: such a text reads as an answer (module docstring)
        assert split_thought(text, name) == ("", "Oil fire: water would spread it.", False)
    else:
        assert split_thought(text, name) == ("Oil fire: water would spread it.", answer, True)


def test_join_keeps_the_old_think_tags_and_llava_layouts():
    assert PRESETS["think_tags"].join("r", "a") == "<think>\nr\n</think>\n\na"
    assert PRESETS["think_tags"].join("r", "", finished=False) == "<think>\nr"
    assert PRESETS["llava_cot_stages"].join("r", "a") == "<REASONING>\nr\n</REASONING>\n<CONCLUSION>\na\n</CONCLUSION>"
    assert PRESETS["think_tags_opened"].join("r", "a") == "r\n</think>\n\na"
    with pytest.raises(ValueError, match="cannot hold a thought"):
        PRESETS["none"].join("r", "a")
    assert not PRESETS["none"].holds_thought and MarkedFormat(final_answer="A:").holds_thought
