"""The five safety benchmarks of the study (docs/benchmarks.md), behind one interface.

    from think_in_safety.benchmarks import REGISTRY, get_benchmark
    spec = get_benchmark("figstep")
    spec.fetch(source, dest, options)          # upstream release -> dest (upstream layout)
    spec.write_demo(dest, seed)                # small demo release, same layout
    table = spec.load_prompts(release_dir, options)   # -> tables.PROMPT_COLUMNS

Families: "jailbreak" (FigStep, MM-SafetyBench, JailBreakV-28K; metric ASR) and "awareness"
(SIUO safe rate, MSSBench accuracy).
"""

from __future__ import annotations

from think_in_safety.benchmarks import (
    figstep,
    jailbreakv,
    mm_safetybench,
    mssbench,
    siuo,
)
from think_in_safety.benchmarks.common import BenchmarkSpec

REGISTRY: dict[str, BenchmarkSpec] = {
    module.SPEC.name: module.SPEC
    for module in (figstep, mm_safetybench, jailbreakv, siuo, mssbench)
}


def get_benchmark(name: str) -> BenchmarkSpec:
    """The spec registered as ``name``; a ValueError lists the valid names otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown benchmark {name!r}; valid names: {sorted(REGISTRY)}") from None


__all__ = ["REGISTRY", "BenchmarkSpec", "get_benchmark"]
