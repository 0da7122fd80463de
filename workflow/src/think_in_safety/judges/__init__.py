"""Judges: registry of backends and :func:`make_judge`, the one entry point the rules call.

    judge = make_judge("rule", {"backend": "rule"})
    judge.identity                                  # "rule:refusal-v2"
    judgments = judge.judge(prompts, responses, "figstep")   # tables.JUDGMENT_COLUMNS + audit columns

Backends (config ``judges.<name>.backend``):

* ``rule`` — :class:`~.rule.RuleJudge`, offline keyword rules (the embedded default);
* ``openai_compatible`` — :class:`~.openai_compatible.OpenAICompatibleJudge`, each benchmark's
  judge protocol (:mod:`.protocols`) on any chat-completions endpoint;
* ``transformers`` — :class:`~.local_model.TransformersJudge`, the same protocols on a model
  loaded in-process.

A new backend is a :class:`~.base.Judge` subclass added to :data:`JUDGE_BACKENDS`; its
constructor takes the judge name plus the config spec's other keys as keyword arguments.
"""

from __future__ import annotations

import inspect

from think_in_safety.judges.base import (
    EMPTY_ANSWER_POLICIES,
    JUDGE_TARGETS,
    JUDGMENT_AUDIT_COLUMNS,
    Judge,
    Verdict,
)
from think_in_safety.judges.llm import JudgeEndpointError, JudgeRunError, ProtocolJudge
from think_in_safety.judges.local_model import TransformersJudge
from think_in_safety.judges.openai_compatible import OpenAICompatibleJudge
from think_in_safety.judges.rule import RuleJudge

#: backend name (config ``judges.<name>.backend``) -> Judge subclass
JUDGE_BACKENDS: dict[str, type[Judge]] = {
    backend.backend: backend for backend in (RuleJudge, OpenAICompatibleJudge, TransformersJudge)
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
    required = _required_of(backend)
    missing = [option for option in required if option not in spec]
    if missing:
        raise ValueError(f"judge {name!r} (backend {backend_name!r}): missing options {missing}; "
                         f"set them under judges.{name} (see config/README.md)")
    return backend(name, **spec)


def _required_of(backend: type[Judge]) -> list[str]:
    """Keyword options without a default (e.g. ``base_url`` and ``model`` of an endpoint judge)."""
    parameters = inspect.signature(backend.__init__).parameters
    return [name for name, p in parameters.items() if name not in ("self", "name")
            and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]


__all__ = ["EMPTY_ANSWER_POLICIES", "JUDGE_BACKENDS", "JUDGE_TARGETS", "JUDGMENT_AUDIT_COLUMNS", "Judge",
           "JudgeEndpointError", "JudgeRunError", "OpenAICompatibleJudge", "ProtocolJudge", "RuleJudge",
           "TransformersJudge", "Verdict", "make_judge"]
