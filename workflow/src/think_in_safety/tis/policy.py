"""The safety policy TiS thoughts reason against: regulations, request taxonomy, categories.

The default policy ships with the package (``data/tis_policy.yaml``); ``tis.policy`` in the
config may name another file with the same keys. :func:`classify` turns a source item's own
labels (or, failing those, the words of its question) into a policy category, and
:func:`decision_for` into the taxonomy class (allowed / disallowed / safe_completion) that the
thought must end in and the answer must take.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

DECISIONS = ("allowed", "disallowed", "safe_completion")
UNSPECIFIED = "unspecified"
NO_RISK = "none"  # the category of a safe request
CATEGORY_KEYS = ("name", "definition", "unsafe_decision", "risk", "refusal", "alternative", "source_labels", "hints")


@dataclass(frozen=True)
class Category:
    key: str
    name: str
    definition: str
    unsafe_decision: str
    risk: str
    refusal: str
    alternative: str
    source_labels: tuple[str, ...]
    hints: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    regulations: str
    taxonomy: dict[str, dict]
    categories: dict[str, Category]

    def label(self, decision: str) -> str:
        """The taxonomy label of ``decision`` as thoughts cite it ("Disallowed Requests")."""
        return self.taxonomy[decision]["label"]

    def category(self, key: str) -> Category:
        if key == UNSPECIFIED:
            return UNSPECIFIED_CATEGORY
        return self.categories[key]

    def as_text(self) -> str:
        """The policy as one text block: what a language-model writer is given."""
        lines = [self.regulations.strip(), "", "Request taxonomy:"]
        for decision in DECISIONS:
            lines.append(f"- {self.label(decision)}: {self.taxonomy[decision]['definition']}.")
        lines += ["", "Categories:"]
        for category in self.categories.values():
            lines.append(f"- {category.name}: {category.definition}.")
        return "\n".join(lines)


UNSPECIFIED_CATEGORY = Category(
    key=UNSPECIFIED,
    name="Unspecified risk",
    definition="a request its source marks unsafe without naming a category",
    unsafe_decision="disallowed",
    risk="cause harm the source judged likely",
    refusal="I can't help with that request.",
    alternative="I'm glad to help with another question about the image.",
    source_labels=(),
    hints=(),
)


def load_policy(path: str | Path | None = None) -> Policy:
    """The policy of ``path`` (YAML), or the packaged default when ``path`` is None/empty."""
    if path:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"tis.policy names {path}, which does not exist; leave it empty for the default")
        text = path.read_text(encoding="utf-8")
        where = str(path)
    else:
        text = resources.files("think_in_safety").joinpath("data/tis_policy.yaml").read_text(encoding="utf-8")
        where = "the packaged tis_policy.yaml"
    data = yaml.safe_load(text)
    for key in ("regulations", "taxonomy", "categories"):
        if key not in data:
            raise ValueError(f"{where} has no {key!r} section")
    missing = [d for d in DECISIONS if d not in data["taxonomy"]]
    if missing:
        raise ValueError(f"{where}: taxonomy lacks {missing}; it needs {list(DECISIONS)}")
    categories = {}
    for key, entry in data["categories"].items():
        absent = [field for field in CATEGORY_KEYS if field not in entry]
        if absent:
            raise ValueError(f"{where}: category {key!r} lacks {absent}")
        if entry["unsafe_decision"] not in ("disallowed", "safe_completion"):
            raise ValueError(f"{where}: category {key!r} unsafe_decision must be disallowed or safe_completion")
        categories[key] = Category(
            key=key,
            **{field: entry[field] for field in CATEGORY_KEYS[:6]},
            source_labels=tuple(label.lower() for label in entry["source_labels"]),
            hints=tuple(hint.lower() for hint in entry["hints"]),
        )
    return Policy(data["regulations"], data["taxonomy"], categories)


def _words(text: str) -> str:
    return " " + re.sub(r"[^a-z0-9' -]+", " ", text.lower()) + " "


def classify(policy: Policy, labels: list[str], question: str = "") -> str:
    """The policy category of an item from its source labels (most specific first).

    A label maps to the category with the longest ``source_labels`` entry contained in it; the
    first label that maps wins. Without any, the question's words are matched against the
    categories' ``hints`` (most hits wins, ties in policy order); otherwise ``unspecified``.
    """
    for label in labels:
        folded = str(label or "").lower()
        if not folded:
            continue
        best = max(
            ((len(source), key) for key, category in policy.categories.items()
             for source in category.source_labels if source in folded),
            default=None,
        )
        if best:
            return best[1]
    words = _words(question)
    scores = {key: sum(f" {hint} " in words or f" {hint}" in words for hint in category.hints)
              for key, category in policy.categories.items()}
    best_key = max(scores, key=lambda key: scores[key]) if scores else None
    return best_key if best_key and scores[best_key] > 0 else UNSPECIFIED


def decision_for(policy: Policy, category: str, request_label: str) -> str:
    """``allowed`` for a safe request; the category's ``unsafe_decision`` for an unsafe one."""
    if request_label == "safe":
        return "allowed"
    if request_label != "unsafe":
        raise ValueError(f"request label must be 'safe' or 'unsafe', not {request_label!r}")
    return policy.category(category).unsafe_decision
