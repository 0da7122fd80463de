"""The generation backends by registry name, each imported only when it is built.

``models.<m>.backend`` (else ``generation.backend``) names one of :data:`BACKENDS`. The module
of a backend is imported by :func:`make_backend` on demand: vLLM lives in its own environment
(``envs/vllm.yaml``) and the API client needs no torch, so no job imports an engine it does not
use. This module imports no backend and no record keeping at load time; the backends import
only :mod:`~.protocol`, so there is no import cycle between them and :mod:`~.generate`.
"""

from __future__ import annotations

import importlib

from think_in_safety.models.protocol import Backend

#: registry name -> (module, class) of the backend; ``transformers`` is built by
#: :func:`~.generate.generate_responses` itself, and only if a batch is left to generate
BACKENDS: dict[str, tuple[str, str] | None] = {
    "transformers": None,
    "vllm": ("think_in_safety.models.vllm_backend", "VLLMBackend"),
    "openai": ("think_in_safety.models.openai_backend", "OpenAIBackend"),
}


def backend_class(name: str) -> type | None:
    """The class of backend ``name`` (its module imported now); None for ``transformers``.
    ValueError naming the known backends otherwise."""
    if name not in BACKENDS:
        raise ValueError(f"unknown generation backend {name!r}: use {', '.join(repr(n) for n in BACKENDS)} "
                         "(models.<m>.backend or generation.backend)")
    target = BACKENDS[name]
    if target is None:
        return None
    module, cls = target
    return getattr(importlib.import_module(module), cls)


def make_backend(name: str, weights: str, decoding: dict, engine: dict, threads: int) -> Backend | None:
    """The backend the registry names (``models.<m>.backend`` or ``generation.backend``).

    ``vllm`` builds the engine now (its own environment, envs/vllm.yaml); ``openai`` builds the
    API client (:mod:`~.openai_backend`; ``engine`` holds its registry settings, ``weights`` is
    unused) and reads its API key now; ``transformers`` returns None so that
    :func:`~.generate.generate_responses` loads the model only if a batch is left.
    """
    cls = backend_class(name)
    if name == "vllm":
        return cls(weights, dict(decoding), **dict(engine))
    if name == "openai":
        return cls(decoding=dict(decoding), **dict(engine))
    import torch

    torch.set_num_threads(threads)
    return None
