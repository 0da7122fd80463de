"""Stage 3 of the TiS assembly: a safety thought for every item.

The writer is given the policy, the image caption, the question, the decision the answer takes
and (unless it writes the answer itself) the reference answer, and writes a ``<think>`` thought
that reasons about intent and risk and ends in that decision (docs/study.md: the released thoughts
reason against "Safety Regulations" and the Allowed / Disallowed / Safe-Completion taxonomy, and
their writer saw a caption and the reference answer). Backends (``tis.writer.backend``):

* ``openai`` — any OpenAI-compatible chat model; ``transformers`` — a local model;
* ``template`` — the offline :mod:`template_writer`, for the embedded demo. It is NOT a language
  model: it composes fixed sentence patterns from the policy's category definitions.

Items whose ``answer_source`` is ``writer`` (SPA-VL's harmful questions, as in the released TiS)
get their answer from the writer too; the others keep the source's reference answer.
Language-model runs are resumable: finished items are appended to a checkpoint file.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pandas as pd

from think_in_safety.tis.backends import LocalTransformersChat, OpenAICompatibleChat
from think_in_safety.tis.policy import Policy
from think_in_safety.tis.template_writer import WRITER_IDENTITY, compose_answer, compose_thought

THOUGHT_COLUMNS = {
    "item_id": "source item id",
    "thought": "the thought, without its <think> tags",
    "answer": "the final answer the record trains on",
    "response": "the assistant turn: '<think>\\nTHOUGHT\\n</think>\\nANSWER' (the TiS layout)",
    "writer": "identity of the thought writer",
    "raw": "the writer's raw output ('' for the template writer)",
}
BACKENDS = ("template", "openai", "transformers")
ACTIONS = {
    "allowed": "answer the request helpfully",
    "disallowed": "refuse, briefly explain why, and offer a safe alternative",
    "safe_completion": "answer only the safe part with care and point to proper help",
}
_THINK = re.compile(r"<think>(.*?)</think>(.*)", re.DOTALL)


def format_response(thought: str, answer: str) -> str:
    """The assistant turn in the released TiS layout."""
    return f"<think>\n{thought.strip()}\n</think>\n{answer.strip()}"


def writer_messages(policy: Policy, item: dict, caption: str) -> list[dict]:
    """The chat a language-model writer gets for one item."""
    decision = item["decision"]
    lines = ["The user sent an image and a request.",
             f"What the image shows: {caption}",
             f"The user's request: {item['question']}"]
    if decision != "allowed":
        category = policy.category(item["category"])
        lines.append(f"Policy category that applies: {category.name} ({category.definition}).")
    lines.append(f"Request class under the policy: {policy.label(decision)}; the response must "
                 f"{ACTIONS[decision]}.")
    writes_answer = item["answer_source"] == "writer" or not item["reference_answer"]
    if not writes_answer:
        lines.append(f"The answer the assistant will give:\n{item['reference_answer']}")
    lines += ["",
              "Write the assistant's private reasoning before it answers: in the first person, about what the "
              "user most likely intends, what the image adds, the possible harm, which safety regulation and "
              "request class apply, ending with the decision the answer takes. Speak of 'the image' as if you "
              "see it; never mention a description, a caption, a reference or a given answer.",
              "Output the reasoning between <think> and </think>."
              + (" After </think>, write the answer to the user." if writes_answer else " Output nothing else.")]
    system = ("You write the reasoning of a careful multimodal assistant that follows this policy.\n\n"
              + policy.as_text())
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n".join(lines)}]


def parse_writer_output(text: str, reference: str, writes_answer: bool) -> tuple[str, str]:
    """``(thought, answer)`` from a writer's output: the text in <think> tags (all of it when
    untagged), and the text after </think> when the writer writes the answer."""
    match = _THINK.search(text)
    if match:
        thought, rest = match.group(1), match.group(2)
    else:
        thought, rest = text.replace("<think>", ""), ""
    answer = rest.strip() if writes_answer else reference
    return thought.strip(), answer.strip()


def _read_checkpoint(path: Path | None) -> dict[str, dict]:
    if not path or not path.is_file():
        return {}
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            rows[row["item_id"]] = row
    return rows


def write_thoughts(sources: pd.DataFrame, captions: pd.DataFrame, policy: Policy, settings: dict, seed: int,
                   checkpoint: str | Path | None = None, log=print) -> pd.DataFrame:
    """One row per source item (:data:`THOUGHT_COLUMNS`)."""
    backend = settings.get("backend", "template")
    caption_of = dict(zip(captions["image"], captions["caption"]))
    items = sources.to_dict("records")
    missing = [item["image"] for item in items if item["image"] not in caption_of]
    if missing:
        raise KeyError(f"{len(missing)} source images have no caption, e.g. {missing[:3]}")
    if backend == "template":
        brief = settings.get("detail", "full") == "brief"
        rows = []
        for item in items:
            rng = random.Random(f"{seed}:{item['item_id']}")
            caption = caption_of[item["image"]]
            answer = item["reference_answer"]
            if item["answer_source"] == "writer" or not answer:
                answer = compose_answer(policy, item["category"], item["decision"], caption, rng, reference=answer,
                                        brief=brief)
            thought = compose_thought(policy, item["question"], caption, item["category"], item["decision"], rng,
                                      brief=brief)
            rows.append({"item_id": item["item_id"], "thought": thought, "answer": answer,
                         "response": format_response(thought, answer), "writer": WRITER_IDENTITY, "raw": ""})
        return pd.DataFrame(rows, columns=list(THOUGHT_COLUMNS))
    if backend == "openai":
        client = OpenAICompatibleChat(
            model=settings["model"], base_url=settings.get("base_url", "https://api.openai.com/v1"),
            api_key_env=settings.get("api_key_env", "OPENAI_API_KEY"),
            temperature=float(settings.get("temperature", 0.7)), max_tokens=int(settings.get("max_tokens", 1024)),
            workers=int(settings.get("workers", 4)))
        run = lambda batch: client.complete_many(  # noqa: E731
            [writer_messages(policy, item, caption_of[item["image"]]) for item in batch])
        identity = client.identity
    elif backend == "transformers":
        local = LocalTransformersChat(settings["model"], max_new_tokens=int(settings.get("max_tokens", 1024)),
                                      temperature=float(settings.get("temperature", 0.0)), seed=seed)

        def run(batch):
            chats = [writer_messages(policy, item, caption_of[item["image"]]) for item in batch]
            return local.complete_many([(chat[0]["content"], chat[1]["content"], []) for chat in chats])

        identity = local.identity
    else:
        raise ValueError(f"tis.writer.backend must be one of {BACKENDS}, not {backend!r}")

    checkpoint = Path(checkpoint) if checkpoint else None
    done = _read_checkpoint(checkpoint)
    todo = [item for item in items if item["item_id"] not in done]
    log(f"thought writer {identity}: {len(done)} items from the checkpoint, {len(todo)} to write")
    chunk = int(settings.get("checkpoint_every", 32))
    for start in range(0, len(todo), chunk):
        batch = todo[start:start + chunk]
        for item, text in zip(batch, run(batch)):
            writes_answer = item["answer_source"] == "writer" or not item["reference_answer"]
            thought, answer = parse_writer_output(text, item["reference_answer"], writes_answer)
            done[item["item_id"]] = {"item_id": item["item_id"], "thought": thought, "answer": answer,
                                     "response": format_response(thought, answer), "writer": identity, "raw": text}
            if checkpoint:
                checkpoint.parent.mkdir(parents=True, exist_ok=True)
                with open(checkpoint, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(done[item["item_id"]], ensure_ascii=False) + "\n")
        log(f"  {min(start + chunk, len(todo))}/{len(todo)} written")
    return pd.DataFrame([done[item["item_id"]] for item in items], columns=list(THOUGHT_COLUMNS))
