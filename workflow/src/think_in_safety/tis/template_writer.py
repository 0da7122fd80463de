"""The offline template writer: safety thoughts and answers composed from the written policy.

THIS IS NOT A LANGUAGE MODEL. It fills fixed sentence patterns with the item's question, the
image caption and the policy's category definition, risk and taxonomy label, choosing among a
few wordings with a seeded random generator. It exists so the embedded demo can assemble a TiS-
style set offline; its thoughts have the *shape* of the released TiS thoughts (intent, risk, the
regulation and the request class, then the decision the answer takes) but none of their
reasoning. A real assembly uses a language-model writer (``tis.writers``).
"""

from __future__ import annotations

import random

from think_in_safety.tis.policy import Policy

WRITER_IDENTITY = "template:policy-v1 (offline template writer, not a language model)"

OPENERS = ("Let me think about this.", "Okay, let me look at what is being asked.",
           "First, what does the user actually want?", "Let me work out the intent here.", "")
SAFE_INTENT = (
    "Nothing in the request or the picture points to harm; the user only wants to know what the image shows.",
    "The question is about what is visible, and answering it cannot hurt anyone.",
    "This is an ordinary question about the picture with no sign of a harmful purpose.",
)
DECISION_SENTENCES = {
    "disallowed": ("So I will decline, say briefly why, and offer something safe instead.",
                   "I must not provide this; I will refuse politely and suggest a safer direction.",
                   "The right response is a clear refusal with a short explanation."),
    "safe_completion": ("So I will not give the risky part; I will answer with care and point to proper help.",
                        "I should respond supportively, leave out anything risky, and recommend proper help.",
                        "I will give only safe, general guidance and encourage the right kind of help."),
    "allowed": ("So I will answer the question directly and helpfully.",
                "I can simply answer what is asked.",
                "I will give a clear, helpful answer."),
}
REFUSAL_OPENERS = ("I'm sorry, but I can't help with that.", "I'm sorry, I cannot assist with that request.",
                   "Sorry, I can't do that.")


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] if text else text


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text


def compose_answer(policy: Policy, category: str, decision: str, scene: str, rng: random.Random,
                   reference: str = "", brief: bool = False) -> str:
    """An answer that takes ``decision``: the reference when allowed, else a refusal/safe completion
    (``brief``: its first two sentences only)."""
    if decision == "allowed":
        if not reference:
            raise ValueError("an allowed item needs its reference answer")
        return reference
    entry = policy.category(category)
    if brief:
        opener = rng.choice(REFUSAL_OPENERS) if decision == "disallowed" else entry.refusal
        return f"{opener} {entry.alternative}"
    if decision == "disallowed":
        return (f"{rng.choice(REFUSAL_OPENERS)} {entry.refusal} Helping with this could {entry.risk}. "
                f"{entry.alternative}")
    if decision == "safe_completion":
        return f"{entry.refusal} {entry.alternative} Please be careful: acting on this alone could {entry.risk}."
    raise ValueError(f"unknown decision {decision!r}")


def compose_thought(policy: Policy, question: str, caption: str, category: str, decision: str,
                    rng: random.Random, brief: bool = False) -> str:
    """A thought about ``question`` on an image showing ``caption`` that ends in ``decision``.

    ``brief``: intent, risk, the request class and the decision in a few short sentences, without
    restating the question (the embedded demo's tiny models have a short generation budget).
    """
    if brief:
        parts = [f"The image shows {_lower_first(caption.strip().rstrip('.'))}."]
        if decision == "allowed":
            parts.append("The question only asks what is shown, so it is harmless.")
        else:
            entry = policy.category(category)
            parts.append(f"The request points to {entry.name.lower()} and could {entry.risk}.")
        parts.append(f"This is one of the **{policy.label(decision)}**.")
        parts.append(rng.choice(DECISION_SENTENCES[decision]))
        return " ".join(_sentence(part) for part in parts)
    parts = [rng.choice(OPENERS), f'The user asks: "{question.strip()}"',
             f"The image shows {_lower_first(caption.strip().rstrip('.'))}."]
    if decision == "allowed":
        parts.append(rng.choice(SAFE_INTENT))
    else:
        entry = policy.category(category)
        parts.append(f"Taken together with the picture, this request falls under {entry.name.lower()}: "
                     f"{entry.definition}.")
        parts.append(f"Going along with it could {entry.risk}.")
    parts.append(f"Under the safety regulations this is one of the **{policy.label(decision)}**: "
                 f"{policy.taxonomy[decision]['definition']}.")
    parts.append(rng.choice(DECISION_SENTENCES[decision]))
    return " ".join(_sentence(part) for part in parts if part)
