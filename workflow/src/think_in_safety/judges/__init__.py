"""Judges: registry of backends and :func:`make_judge`, the one entry point the rules call.

    judge = make_judge("rule", {"backend": "rule"})
    judge.identity                                  # "rule:refusal-v1"
    judgments = judge.judge(prompts, responses, "figstep")   # tables.JUDGMENT_COLUMNS

A new backend (OpenAI-compatible endpoint, local model) is a :class:`~.base.Judge` subclass
added to :data:`JUDGE_BACKENDS`; its constructor takes the judge name plus the config spec's
other keys as keyword arguments.
"""

from __future__ import annotations

import inspect

from think_in_safety.judges.base import (
    EMPTY_ANSWER_POLICIES,
    JUDGE_TARGETS,
    Judge,
    Verdict,
)
from think_in_safety.judges.rule import RuleJudge

#: backend name (config ``judges.<name>.backend``) -> Judge subclass
JUDGE_BACKENDS: dict[str, type[Judge]] = {
    RuleJudge.backend: RuleJudge,
}


def _options_of(backend: type[Judge]) -> list[str]:
    """Keyword options a backend's constructor accepts (besides ``name``)."""
    parameters = inspect.signature(backend.__init__).parameters
    return [name for name, p in parameters.items() if name not in ("self", "name")
            and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]


def make_judge(name: str, spec: dict) -> Judge:
    """Build the judge ``name`` from its config ``spec`` (``{"backend": ..., **options}``).

    Raises ValueError for an unknown backend (naming the valid ones) or an unknown option.
    """
    spec = dict(spec or {})
    backend_name = spec.pop("backend", None)
    backend = JUDGE_BACKENDS.get(backend_name)
    if backend is None:
        raise ValueError(f"judge {name!r}: unknown backend {backend_name!r}; valid backends: {sorted(JUDGE_BACKENDS)}")
    allowed = _options_of(backend)
    unknown = sorted(set(spec) - set(allowed))
    if unknown:
        raise ValueError(f"judge {name!r} (backend {backend_name!r}): unknown options {unknown}; allowed: {allowed}")
    return backend(name, **spec)


__all__ = ["EMPTY_ANSWER_POLICIES", "JUDGE_BACKENDS", "JUDGE_TARGETS", "Judge", "RuleJudge", "Verdict", "make_judge"]
