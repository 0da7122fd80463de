"""Split a generation into its thought and its answer, per thought format.

A thought format says how a model marks its thought. :data:`PRESETS` is the one registry of
named formats; a model names one (``models.<m>.thought_format: think_tags``) or gives its own
markers inline (a mapping of :class:`MarkedFormat` fields, config/README.md).

Two kinds of format:

* :class:`MarkedFormat` — the thought between an open and a close marker (``<think>``,
  ``</think>``), then the answer; optionally the answer between its own markers
  (``<answer>…</answer>``) and/or after a final-answer marker (Mulberry's
  ``### The final answer is:``, QVQ's ``**Final Answer**``). ``opened_by_template``: the chat
  template already wrote the open marker (a DeepSeek-R1-style template ending in ``<think>\\n``),
  so the generated text starts inside the thought and carries only the close marker.
* :class:`StagedFormat` — LLaVA-CoT's tagged stages: ``<SUMMARY>``, ``<CAPTION>`` and
  ``<REASONING>`` are the thought, ``<CONCLUSION>`` the answer.

Rules of :meth:`MarkedFormat.split`, in order:

1. The thought ends at the LAST close marker; every open/close marker is removed from it.
2. After that point (or in the whole text when there is no close marker), the answer is the
   content of the first answer-open marker up to its close marker (or the end of the text:
   an answer cut off by max_new_tokens keeps what was written), else the text after the last
   final-answer marker; text before such a marker belongs to the thought.
3. No close marker and no answer marker: when the thought was opened (an open marker in the
   text, or ``opened_by_template``) the generation was CUT OFF WHILE THINKING — the whole text
   is the thought, the answer is ``""`` (the user would have seen no answer) and
   ``has_thought`` is True; otherwise the whole text is the answer (a model that answered
   without thinking, e.g. a plain refusal of Mulberry without its final-answer marker).

``has_thought`` is True when a non-empty thought was found. The three formats of the first
release behave exactly as before: ``none`` (all answer), ``think_tags``, ``llava_cot_stages``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Protocol

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
THOUGHT_STAGES = ("SUMMARY", "CAPTION", "REASONING")
ANSWER_STAGE = "CONCLUSION"


class ThoughtFormat(Protocol):
    """What every format offers: split a generation, and write a thought and answer back in it."""

    description: str

    def split(self, text: str) -> tuple[str, str, bool]: ...

    @property
    def holds_thought(self) -> bool: ...

    def join(self, thought: str, answer: str, finished: bool = True) -> str: ...


def _pattern(markers: tuple[str, ...], ignore_case: bool) -> re.Pattern | None:
    """One regex matching any of ``markers`` literally (None when there are none)."""
    markers = tuple(marker for marker in markers if marker)
    if not markers:
        return None
    alternatives = "|".join(re.escape(marker) for marker in sorted(markers, key=len, reverse=True))
    return re.compile(alternatives, re.IGNORECASE if ignore_case else 0)


def _last(pattern: re.Pattern | None, text: str) -> re.Match | None:
    matches = list(pattern.finditer(text)) if pattern else []
    return matches[-1] if matches else None


def _joined(*parts: str) -> str:
    return "\n".join(part.strip() for part in parts if part.strip())


@dataclass(frozen=True)
class MarkedFormat:
    """A thought between markers, then the answer (module docstring: the rules of :meth:`split`).

    ``final_answer`` may hold several spellings of the marker (a string or a tuple); the last
    occurrence of any of them counts.
    """

    thought_open: str = ""
    thought_close: str = ""
    answer_open: str = ""
    answer_close: str = ""
    final_answer: tuple[str, ...] = ()
    opened_by_template: bool = False
    ignore_case: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        final = self.final_answer
        final = (final,) if isinstance(final, str) else tuple(final or ())
        object.__setattr__(self, "final_answer", tuple(marker for marker in final if marker))
        for name in ("thought_open", "thought_close", "answer_open", "answer_close"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"thought format: {name} must be a string, not {getattr(self, name)!r}")
        if self.thought_open and not self.thought_close:
            raise ValueError(
                f"thought format: thought_open {self.thought_open!r} has no thought_close; give the marker "
                "that ends the thought (e.g. '</think>'), or drop thought_open")
        if self.answer_close and not self.answer_open:
            raise ValueError(
                f"thought format: answer_close {self.answer_close!r} needs an answer_open (e.g. '<answer>')")
        if self.opened_by_template and not (self.thought_close or self.answer_open or self.final_answer):
            raise ValueError(
                "thought format: opened_by_template needs a marker that ends the thought: thought_close, "
                "answer_open or final_answer")

    @property
    def holds_thought(self) -> bool:
        """Whether any marker separates a thought from the answer (False: format ``none``)."""
        return bool(self.thought_close or self.answer_open or self.final_answer)

    def _compiled(self, *markers: str) -> re.Pattern | None:
        return _pattern(markers, self.ignore_case)

    def _answer(self, rest: str) -> tuple[str | None, str]:
        """(answer, text before its marker) of ``rest``; answer None when no answer marker is in it."""
        opening = self._compiled(self.answer_open)
        match = opening.search(rest) if opening else None
        if match:
            content = rest[match.end():]
            closing = self._compiled(self.answer_close)
            end = closing.search(content) if closing else None
            return (content[: end.start()] if end else content), rest[: match.start()]
        final = _last(self._compiled(*self.final_answer), rest)
        if final:
            return rest[final.end():], rest[: final.start()]
        return None, ""

    def split(self, text: str) -> tuple[str, str, bool]:
        """``(thought, answer, has_thought)`` by the rules of the module docstring."""
        close = _last(self._compiled(self.thought_close), text)
        before, rest = (text[: close.start()], text[close.end():]) if close else ("", text)
        answer, lead = self._answer(rest)
        if answer is None:
            opening = self._compiled(self.thought_open)
            opened = self.opened_by_template or bool(opening and opening.search(text))
            if close is None and opened:  # cut off while thinking
                thought, answer = text, ""
            else:
                thought, answer = before, rest
        else:
            thought = _joined(before, lead)
        markers = self._compiled(self.thought_open, self.thought_close)
        thought = (markers.sub("", thought) if markers else thought).strip()
        return thought, answer.strip(), bool(thought)

    def join(self, thought: str, answer: str, finished: bool = True) -> str:
        """The generation a model of this format writes for ``thought`` and ``answer`` (a thought
        served apart from its answer, e.g. an API's reasoning field); cut off while thinking
        (``finished`` False, no answer): the thought alone, left open. ValueError for a format
        without markers (``none``)."""
        thought, answer = thought.strip(), answer.strip()
        if not thought:
            return answer
        if not self.holds_thought:
            raise ValueError("a format without markers (none) cannot hold a thought")
        opening = "" if self.opened_by_template or not self.thought_open else f"{self.thought_open}\n"
        if not finished and not answer:
            return f"{opening}{thought}"
        if self.answer_open and self.answer_open.lower() not in answer.lower():
            answer = f"{self.answer_open}{answer}{self.answer_close}"
        elif not self.answer_open and self.final_answer:
            answer = f"{self.final_answer[0]} {answer}"
        closing = f"\n{self.thought_close}" if self.thought_close else ""
        return f"{opening}{thought}{closing}\n\n{answer}"


@dataclass(frozen=True)
class StagedFormat:
    """Tagged stages (LLaVA-CoT): the thought stages' contents are the thought, the answer
    stage's content the answer. Tags are matched case-insensitively; an unclosed stage runs to
    the next stage tag or the end; a generation cut off before the answer stage has answer ``""``
    (an answer stage cut off keeps what was written). Text without any stage tag is all answer."""

    thought_stages: tuple[str, ...] = THOUGHT_STAGES
    answer_stage: str = ANSWER_STAGE
    description: str = ""

    @property
    def holds_thought(self) -> bool:
        return True

    @property
    def _tag(self) -> re.Pattern:
        names = "|".join(re.escape(name) for name in (*self.thought_stages, self.answer_stage))
        return re.compile(rf"<(/?)\s*({names})\s*>", re.IGNORECASE)

    def _stage_contents(self, text: str) -> dict[str, str]:
        pieces: dict[str, list[str]] = {}
        current, position = None, 0
        for match in self._tag.finditer(text):
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

    def split(self, text: str) -> tuple[str, str, bool]:
        if not self._tag.search(text):
            return "", text.strip(), False
        stages = self._stage_contents(text)
        thought = "\n\n".join(stages[name.upper()] for name in self.thought_stages if stages.get(name.upper()))
        return thought, stages.get(self.answer_stage.upper(), ""), bool(thought)

    def join(self, thought: str, answer: str, finished: bool = True) -> str:
        """The thought as the last thought stage, the answer as the answer stage (unless it
        already carries stage tags); cut off while thinking: the thought stage left open."""
        thought, answer = thought.strip(), answer.strip()
        if not thought:
            return answer
        stage, final = self.thought_stages[-1], self.answer_stage
        if not finished and not answer:
            return f"<{stage}>\n{thought}"
        if f"<{final}>".lower() not in answer.lower():
            answer = f"<{final}>\n{answer}\n</{final}>"
        return f"<{stage}>\n{thought}\n</{stage}>\n{answer}"


#: The named formats: a model's ``thought_format`` names one of these or gives its own markers.
PRESETS: dict[str, ThoughtFormat] = {
    "none": MarkedFormat(description="no thought: the whole generation is the answer (base models)"),
    "think_tags": MarkedFormat(
        THINK_OPEN, THINK_CLOSE,
        description="<think>THOUGHT</think> then the answer (R1-Onevision, Vision-R1, ThinkLite-VL, the TiS data)"),
    "think_answer_tags": MarkedFormat(
        THINK_OPEN, THINK_CLOSE, "<answer>", "</answer>",
        description="<think>THOUGHT</think><answer>ANSWER</answer> (VLAA-Thinker, OpenVLThinker, MM-Eureka)"),
    "think_tags_opened": MarkedFormat(
        THINK_OPEN, THINK_CLOSE, opened_by_template=True,
        description="the chat template writes <think>: THOUGHT</think> then the answer (DeepSeek-R1-style templates)"),
    "kimi_think": MarkedFormat(
        "◁think▷", "◁/think▷",
        description="◁think▷THOUGHT◁/think▷ then the answer (Kimi-VL-A3B-Thinking)"),
    "llava_cot_stages": StagedFormat(
        description="<SUMMARY>, <CAPTION>, <REASONING> are the thought, <CONCLUSION> the answer (LLaVA-CoT)"),
    "mulberry_final_answer": MarkedFormat(
        final_answer=("### The final answer is:",),
        description="'###'-headed steps, then '### The final answer is:' ANSWER (Mulberry)"),
    "qvq_final_answer": MarkedFormat(
        final_answer=("**Final Answer**", "**Final Answer:**"),
        description="free reasoning, then '**Final Answer**' ANSWER (QVQ-72B-Preview)"),
}

#: Names of the preset formats (the schema's enum lists the same).
THOUGHT_FORMATS = tuple(PRESETS)
#: Keys of an inline format (``models.<m>.thought_format`` as a mapping).
INLINE_KEYS = tuple(f.name for f in fields(MarkedFormat))


def thought_format_of(spec: str | Mapping) -> ThoughtFormat:
    """The format a registry entry names (a preset) or spells out (a mapping of
    :data:`INLINE_KEYS`); ValueError naming the problem and the fix otherwise."""
    if isinstance(spec, MarkedFormat | StagedFormat):
        return spec
    if isinstance(spec, str):
        if spec not in PRESETS:
            raise ValueError(f"unknown thought format {spec!r}; expected one of {THOUGHT_FORMATS} "
                             f"or a mapping of markers ({', '.join(INLINE_KEYS)})")
        return PRESETS[spec]
    if isinstance(spec, Mapping):
        unknown = sorted(set(spec) - set(INLINE_KEYS))
        if unknown:
            raise ValueError(f"thought format has unknown keys {unknown}; an inline format takes {list(INLINE_KEYS)}")
        return MarkedFormat(**dict(spec))
    raise ValueError(f"thought format must be a preset name or a mapping of markers, not {spec!r}")


def split_thought(text: str, thought_format: str | Mapping) -> tuple[str, str, bool]:
    """Return ``(thought, answer, has_thought)`` of a decoded generation (module docstring).

    ``thought_format``: a name of :data:`PRESETS` or an inline mapping of markers.
    """
    return thought_format_of(thought_format).split(text)
