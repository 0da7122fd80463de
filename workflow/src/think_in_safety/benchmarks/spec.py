"""What every stage knows about a benchmark: the :class:`BenchmarkSpec` type.

This module needs only the standard library, so the registry of specs
(:data:`think_in_safety.benchmarks.REGISTRY`) is read while Snakemake parses the workflow without
loading pandas or Pillow. The release I/O (fetch, demo release, prompt table) lives in each
benchmark's own module (``spec.module``), imported when one of those operations is called.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, ModuleType
from typing import Any

#: benchmark families, in the order tables and figures show them
FAMILIES = ("jailbreak", "awareness")
#: the scopes a benchmark's metrics may be computed over (``metrics`` module docstring)
SCOPES = ("overall", "subset", "category", "subset_category")
#: how a human label is written in a labels file: lower case ("unsafe"), capitalised ("True"),
#: or a class index ("2"; "2.0" from a float column reads as "2")
LABEL_FORMS = ("lower", "capitalized", "class_index")


@dataclass(frozen=True)
class MetricDef:
    """A metric: its name, direction, and the strata whose means are averaged (() = pool all)."""

    name: str
    higher_is_safer: bool
    strata: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class BenchmarkSpec:
    """One benchmark: what the prompts, judge, metrics, tables and report stages need to know.

    Identity: ``name`` (registry key, file names), ``title`` (tables, figures, report),
    ``family`` (one of :data:`FAMILIES`), ``description``.

    Scoring (``metrics``): ``metrics`` in output order, the ``scopes`` they are computed over,
    the ``headline`` rows (metric, scope, group) that the collapse table compares with the base
    model (its first metric is the one heatmaps show), ``majority_vote`` over a prompt's samples
    (SIUO), ``baseline_subsets`` left out of pooled scopes (text-only controls),
    ``stratum_column`` of the prompt table whose values split the metrics (MSSBench's
    ``image_context``: safe and unsafe images are scored apart), and ``over_refusal_strata``,
    the strata where a verdict of "unsafe" means a needless refusal, not a safety failure
    (MSSBench's safe images: left out of the response-level safety tables), and
    ``refusal_labels``, the judge labels that mean the response refused (MSSBench's class 0),
    whose share in those strata is the fine-tuning table's over-refusal.

    Judging: ``rule`` (the rule judge's rule, a key of ``judges.rule.RULES``), ``protocol`` (the
    default LLM-judge protocol, a key of ``judges.protocols.PROTOCOLS``); the judge's labels
    (``labels``, written as ``label_form``), which of them mean unsafe (``unsafe_labels``) or, for a
    benchmark that scores correctness per stratum, which are correct in each stratum
    (``correct_labels``); how a verdict reads in words (``verdict_words``: safe/unsafe, or
    correct/incorrect) and what its label is called (``label_name``: "label" or "class");
    ``default_rubric`` of a labelled response without ``judge_rubric``, or, when it is empty, the
    ``rubrics`` one of which it must name.

    Release: ``module``, the module with ``fetch``, ``write_demo``, ``load_prompts`` and
    ``DEFAULT_SOURCE``; ``needs_images_url`` (where the image archive is published when the
    images are not in the source; a URL source then needs the option ``images_url``),
    ``images_dir`` (the release folder it fills) and ``images_url_alternatives`` (options that
    may stand in for ``images_url``).
    """

    name: str
    title: str
    family: str
    description: str
    module: str
    metrics: tuple[MetricDef, ...]
    scopes: tuple[str, ...]
    headline: tuple[tuple[str, str, str], ...]
    majority_vote: bool = False
    baseline_subsets: tuple[str, ...] = ()
    stratum_column: str | None = None
    over_refusal_strata: tuple[str, ...] = ()
    refusal_labels: tuple[str, ...] = ()
    rule: str
    protocol: str
    labels: tuple[str, ...]
    label_form: str = "lower"
    unsafe_labels: tuple[str, ...] = ()
    correct_labels: Mapping[str, frozenset[str]] = field(default_factory=dict, hash=False)
    verdict_words: tuple[str, str] = ("safe", "unsafe")
    label_name: str = "label"
    default_rubric: str = ""
    rubrics: tuple[str, ...] = ()
    needs_images_url: str | None = None
    images_dir: str | None = None
    images_url_alternatives: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        problems = []
        if self.family not in FAMILIES:
            problems.append(f"family must be one of {FAMILIES}, not {self.family!r}")
        if self.label_form not in LABEL_FORMS:
            problems.append(f"label_form must be one of {LABEL_FORMS}, not {self.label_form!r}")
        names = [metric.name for metric in self.metrics]
        for metric, scope, _ in self.headline:
            if metric not in names:
                problems.append(f"headline metric {metric!r} is not one of its metrics {names}")
            if scope not in self.scopes:
                problems.append(f"headline scope {scope!r} is not one of its scopes {self.scopes}")
        unknown_scopes = sorted(set(self.scopes) - set(SCOPES))
        if unknown_scopes:
            problems.append(f"scopes {unknown_scopes} are not among {SCOPES}")
        strata = {stratum for metric in self.metrics for stratum in metric.strata}
        if (strata or self.over_refusal_strata or self.correct_labels) and not self.stratum_column:
            problems.append("metrics with strata, over_refusal_strata and correct_labels need a stratum_column")
        if bool(self.over_refusal_strata) != bool(self.refusal_labels):
            problems.append("over_refusal_strata and refusal_labels go together")
        if bool(self.unsafe_labels) == bool(self.correct_labels):
            problems.append("give either unsafe_labels or correct_labels (per stratum)")
        given = set(self.unsafe_labels).union(self.refusal_labels, *self.correct_labels.values())
        if not given <= set(self.labels):
            problems.append(f"labels {sorted(given - set(self.labels))} are not among its labels {self.labels}")
        if not self.default_rubric and not self.rubrics:
            problems.append("give a default_rubric or the rubrics a labelled row chooses from")
        if problems:
            raise ValueError(f"benchmark spec {self.name!r}: " + "; ".join(problems))
        # a read-only copy: the registry is shared by every stage
        object.__setattr__(self, "correct_labels",
                           MappingProxyType({key: frozenset(value) for key, value in self.correct_labels.items()}))

    # --- scoring ---------------------------------------------------------------------------
    def metric_def(self, metric: str) -> MetricDef:
        """The :class:`MetricDef` called ``metric``; ValueError naming the benchmark otherwise."""
        for definition in self.metrics:
            if definition.name == metric:
                return definition
        raise ValueError(f"benchmark {self.name!r} has no metric {metric!r}")

    @property
    def metric(self) -> MetricDef:
        """The benchmark's primary metric: that of its first headline row."""
        return self.metric_def(self.headline[0][0])

    # --- labels and verdicts ---------------------------------------------------------------
    def normalise_label(self, value: Any) -> str:
        """A human label as the judge writes it (:attr:`label_form`)."""
        value = str(value).strip()
        if self.label_form == "capitalized":
            return value.capitalize()
        if self.label_form == "class_index":
            return value.split(".")[0]
        return value.lower()

    def strata_text(self) -> str:
        """``"'safe' or 'unsafe'"``: the strata of :attr:`correct_labels`, for messages."""
        return " or ".join(repr(stratum) for stratum in self.correct_labels)

    def label_is_unsafe(self, label: str, stratum: str = "") -> bool:
        """Whether ``label`` means unsafe (for a benchmark scored per stratum: incorrect there).
        A stratum without correct labels raises KeyError: check it first (:attr:`correct_labels`)."""
        if self.correct_labels:
            return label not in self.correct_labels[stratum]
        return label in self.unsafe_labels

    # --- the release (the benchmark's module, imported when called) -------------------------
    def _module(self) -> ModuleType:
        return importlib.import_module(self.module)

    @property
    def default_source(self) -> str:
        """Where ``fetch`` reads the release from when no source is given (the module's ``DEFAULT_SOURCE``)."""
        return self._module().DEFAULT_SOURCE

    def missing_images_url(self, source: str | None, options: dict | None = None) -> str | None:
        """Why fetching ``source`` would find no images (None when it will): a URL source of a
        benchmark whose images ship apart, without ``images_url`` (or an alternative) or
        ``skip_images: true``. Demo and local sources hold their images."""
        options = dict(options or {})
        if not self.needs_images_url:
            return None
        source = source or self.default_source
        if not str(source).startswith(("http://", "https://")):
            return None
        if options.get("skip_images") is True:
            return None
        if any(options.get(key) for key in ("images_url", *self.images_url_alternatives)):
            return None
        alternatives = "".join(f", or set {key}" for key in self.images_url_alternatives)
        return (f"{self.name}'s images are not in its source ({source}): set images_url to the "
                f"image archive, published at {self.needs_images_url} (that link works as it is), "
                f"or to the local path of the downloaded zip{alternatives}; or point source at a "
                f"local copy of the release that holds {self.images_dir}/")

    def fetch(self, source: str | None, dest: str | os.PathLike, options: dict | None = None) -> None:
        """Write the upstream release into ``dest`` (upstream layout) from a URL base or local dir,
        with the benchmark's official texts when the options ask for them (``official_texts``:
        fetched into ``dest/official_texts``)."""
        from think_in_safety.benchmarks.common import fetch_release

        fetch_release(self, self._module().fetch, source, dest, options)

    def write_demo(self, dest: str | os.PathLike, seed: int = 0) -> None:
        """Write a small demo release into ``dest`` in exactly the upstream on-disk format."""
        from pathlib import Path

        self._module().write_demo(Path(dest), int(seed))

    def load_prompts(self, release_dir: str | os.PathLike, options: dict | None = None):
        """Read a release (real or demo) into the prompt table (``tables.PROMPT_COLUMNS``), a
        pandas DataFrame; see :func:`think_in_safety.benchmarks.common.load_release`."""
        from think_in_safety.benchmarks.common import load_release

        return load_release(self, self._module().load_prompts, release_dir, options)
