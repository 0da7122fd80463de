"""Split a generation into its thought and its answer, per thought format.

Formats of the study's reasoning models (docs/study.md): ``think_tags`` — R1-Onevision and the TiS
data, ``<think>\\nTHOUGHT\\n</think>\\nANSWER``; ``llava_cot_stages`` — LLaVA-CoT,
``<SUMMARY>..</SUMMARY><CAPTION>..</CAPTION><REASONING>..</REASONING><CONCLUSION>ANSWER</CONCLUSION>``;
``none`` — base models, all answer. A reasoning cut off before its answer (max_new_tokens) has
answer ``""``: the user would have seen no answer.
"""

from __future__ import annotations

import re

THOUGHT_FORMATS = ("none", "think_tags", "llava_cot_stages")

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
THOUGHT_STAGES = ("SUMMARY", "CAPTION", "REASONING")
ANSWER_STAGE = "CONCLUSION"
_STAGE_TAG = re.compile(r"<(/?)\s*(SUMMARY|CAPTION|REASONING|CONCLUSION)\s*>", re.IGNORECASE)


def _split_think_tags(text: str) -> tuple[str, str, bool]:
    """Thought: text before the last ``</think>`` (``<think>`` tags removed); answer: after it."""
    if THINK_CLOSE in text:
        thought, answer = text.rsplit(THINK_CLOSE, 1)
    elif THINK_OPEN in text:  # opened, never closed: truncated while thinking
        thought, answer = text, ""
    else:
        return "", text.strip(), False
    thought = thought.replace(THINK_OPEN, "").replace(THINK_CLOSE, "").strip()
    return thought, answer.strip(), bool(thought)


def _stage_contents(text: str) -> dict[str, str]:
    """Content of each LLaVA-CoT stage; an unclosed stage runs to the next tag or the end."""
    pieces: dict[str, list[str]] = {}
    current, position = None, 0
    for match in _STAGE_TAG.finditer(text):
        if current is not None:
            pieces[current].append(text[position : match.start()])
        closing, name = match.group(1) == "/", match.group(2).upper()
        current = None if closing else name
        if current is not None:
            pieces.setdefault(current, [])
        position = match.end()
    if current is not None:
        pieces[current].append(text[position:])
    return {name: "\n".join(p.strip() for p in parts if p.strip()) for name, parts in pieces.items()}


def _split_llava_cot(text: str) -> tuple[str, str, bool]:
    """Thought: SUMMARY, CAPTION and REASONING contents; answer: CONCLUSION content ('' if none)."""
    if not _STAGE_TAG.search(text):
        return "", text.strip(), False
    stages = _stage_contents(text)
    thought = "\n\n".join(stages[name] for name in THOUGHT_STAGES if stages.get(name))
    return thought, stages.get(ANSWER_STAGE, ""), bool(thought)


def split_thought(text: str, thought_format: str) -> tuple[str, str, bool]:
    """Return ``(thought, answer, has_thought)`` of a decoded generation.

    Text without any tag of the format is all answer. ``has_thought`` is True when a non-empty
    thought was found.
    """
    if thought_format == "none":
        return "", text.strip(), False
    if thought_format == "think_tags":
        return _split_think_tags(text)
    if thought_format == "llava_cot_stages":
        return _split_llava_cot(text)
    raise ValueError(f"unknown thought format {thought_format!r}; expected one of {THOUGHT_FORMATS}")
