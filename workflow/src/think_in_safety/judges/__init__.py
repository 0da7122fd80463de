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

A new backend is a :class:`~.base.Judge` subclass added to :data:`JUDGE_BACKENDS` (built by
:func:`_judge_backends` when first used); its constructor takes the judge name plus the config
spec's other keys as keyword arguments.
"""

from __future__ import annotations

import importlib
import inspect
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from think_in_safety.judges.base import Judge

# The names below are imported when first used: the package is also imported for its light
# modules (``runs``: the failure records the workflow reads while it plans), which must not load
# pandas, numpy or requests.
_EXPORTS = {
    "EMPTY_ANSWER_POLICIES": "base", "JUDGE_TARGETS": "base", "JUDGMENT_AUDIT_COLUMNS": "base", "Judge": "base",
    "Verdict": "base", "JudgeEndpointError": "llm", "JudgeRunError": "llm", "ProtocolJudge": "llm",
    "TransformersJudge": "local_model", "OpenAICompatibleJudge": "openai_compatible", "RuleJudge": "rule",
}


def _judge_backends() -> dict[str, type[Judge]]:
    """backend name (config ``judges.<name>.backend``) -> Judge subclass: :data:`JUDGE_BACKENDS`."""
    backends = (_export("RuleJudge"), _export("OpenAICompatibleJudge"), _export("TransformersJudge"))
    return {backend.backend: backend for backend in backends}


def _export(name: str) -> Any:
    """A name of the package, imported the first time it is asked for."""
    return globals()[name] if name in globals() else __getattr__(name)


def __getattr__(name: str) -> Any:
    if name == "JUDGE_BACKENDS":
        value = _judge_backends()
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


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
    backends = _export("JUDGE_BACKENDS")
    backend = backends.get(backend_name)
    if backend is None:
        raise ValueError(f"judge {name!r}: unknown backend {backend_name!r}; valid backends: {sorted(backends)}")
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
