"""Each benchmark's own prompt wrappers and judge prompts, by reference: read from the
benchmark's released evaluation code at a pinned commit, never copied into this project.

A study asks for them per benchmark (``benchmarks.<name>.options.official_texts``, config/README.md)::

    official_texts:
      source: https://raw.githubusercontent.com/<org>/<repo>/<commit>   # or a local checkout
      files: [utils/prompts.py, utils/gpt4_eval.py]                     # default: UPSTREAM[...].files

* **fetched with the release**: ``download_benchmark`` (``BenchmarkSpec.fetch``) downloads the
  files into ``<release>/official_texts/<path>`` through :mod:`think_in_safety.download`, so the
  configured mirrors and the sha256 data lock apply to them as to the data;
* **parsed, never executed**: :func:`ast.parse` and :func:`ast.literal_eval` read the module-level
  string constants and dict literals the benchmark's code defines (SIUO's two judge templates
  sit in ``if args.mode == ...`` blocks and are read there). Where upstream composes a prompt in
  code (``PROMPT_CHAT_IF + query``, ``template.replace("{question}", ...)``,
  ``prompt_template.format(prompt1=..., response=..., prompt2=...)``), the composition is a
  documented field mapping (docs/benchmarks.md, "Official texts") re-implemented by the loader
  and the judge protocols, and checked against the files where it can be;
* **carried by the prompt table**: :func:`attach` puts the parsed texts in the table's
  ``attrs``, which pandas writes into ``results/prompts/<benchmark>.parquet`` and restores on
  reading, so the judge of that table uses the same texts (:func:`from_table`).

Every prompt row and judgment row names its text in the column ``text_source``
(:data:`TEXT_SOURCES`). A study that asks for official texts and cannot get them stops with an
:class:`OfficialTextError` naming the file and the fix; it never falls back to the paraphrases.

:func:`write_standins` writes files in the upstream layout (same file names, variable names and
structure) holding the project's *own* sentences: the rehearsal's data host serves them and
tests compare against them. They are not the official text.
"""

from __future__ import annotations

import ast
import hashlib
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from think_in_safety import download

#: folder of a release that the official files are fetched into (their upstream paths below it)
TEXT_DIR = "official_texts"
#: key of ``DataFrame.attrs`` (and so of the parquet file's metadata) that carries the texts
ATTRS_KEY = "official_texts"
#: key of ``benchmarks.<name>.options`` that asks for them
OPTION = "official_texts"

OFFICIAL = "official@"
PARAPHRASE = "paraphrase"
RELEASE = "release"
EMBEDDED = "embedded"
NONE = "none"

#: what the ``text_source`` column of prompt and judgment rows can say
TEXT_SOURCES = {
    OFFICIAL + "<revision>": "read from the benchmark's released code at that commit (by reference)",
    PARAPHRASE: "the project's own wording (of the benchmark's text where it publishes one)",
    RELEASE: "prompt rows: the prompt is the release's own text, sent without a wrapper",
    EMBEDDED: "prompt rows: a fixed sentence kept in the project's code (FigStep's instruction)",
    NONE: "judgment rows: no judge text (the rule judge's keyword rules, Llama Guard's own template)",
}

#: why a benchmark has no official texts this workflow reads
NO_OFFICIAL = {
    "figstep": "FigStep has no official LLM judge (its authors reviewed responses by hand) and sends one "
               "fixed sentence with every image",
    "jailbreakv": "JailBreakV-28K's official judge is Llama-Guard, a classifier whose policy is its own chat "
                  "template, and its prompts are the release's own text",
}


class OfficialTextError(ValueError):
    """Official texts that were asked for and cannot be had; the message names the file and the fix."""


# ------------------------------------------------------------------------------------------------
# the upstream files and what is read from them
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Source:
    """One official file: its path in the upstream repository, where it was read, its syntax tree."""

    relative: str
    path: Path
    text: str
    tree: ast.Module

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Upstream:
    """A benchmark's released code: where it lives, the files read, and how they are read."""

    benchmark: str
    repository: str
    files: tuple[str, ...]
    what: str
    parse: Callable[[Mapping[str, _Source]], dict] = field(repr=False)


def _field_names(template: str) -> set[str]:
    """The ``str.format`` fields of ``template`` (``{{`` and ``}}`` are literal braces)."""
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as error:
        raise OfficialTextError(f"not a str.format template ({error})") from None


def _where(sources: Mapping[str, _Source]) -> str:
    return ", ".join(str(source.path) for source in sources.values())


def _constants(source: _Source) -> dict[str, Any]:
    """Module-level ``NAME = <literal>`` assignments of a file (non-literal values are skipped)."""
    found: dict[str, Any] = {}
    for node in source.tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            target, value = node.targets[0].id, node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            target, value = node.target.id, node.value
        else:
            continue
        try:
            found[target] = ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            found.setdefault(target, _NOT_LITERAL)
    return found


_NOT_LITERAL = object()


def constant(sources: Mapping[str, _Source], name: str, kind: type, what: str) -> Any:
    """The literal value of the module-level variable ``name``, defined once in ``sources``."""
    hits = [(source, values[name]) for source in sources.values()
            if name in (values := _constants(source))]
    if not hits:
        raise OfficialTextError(
            f"{_where(sources)}: no module-level variable {name!r} ({what}). The files or the commit in "
            "official_texts do not hold the texts this workflow reads (docs/benchmarks.md, 'Official "
            "texts'): point source at the commit given there, or list the file that defines it under files")
    if len(hits) > 1:
        raise OfficialTextError(f"{name!r} is defined in more than one official file "
                                f"({', '.join(str(s.path) for s, _ in hits)}): list only one of them under files")
    source, value = hits[0]
    if value is _NOT_LITERAL or not isinstance(value, kind):
        raise OfficialTextError(f"{source.path}: {name!r} is not a {kind.__name__} literal ({what}); it is read "
                                "without running the file, so it must be one")
    return value


def _template(value: Any, where: str, required: set[str], allowed: set[str] | None = None) -> str:
    """``value`` checked to be a string whose format fields include ``required`` (and, with
    ``allowed``, no others)."""
    if not isinstance(value, str):
        raise OfficialTextError(f"{where} is not a string")
    try:
        names = _field_names(value)
    except OfficialTextError as error:
        raise OfficialTextError(f"{where}: {error}") from None
    missing = sorted(required - names)
    extra = sorted(names - allowed) if allowed is not None else []
    if missing or extra:
        raise OfficialTextError(
            f"{where} has the fields {sorted(names)} (missing {missing}, unexpected {extra}): the documented "
            "field mapping (docs/benchmarks.md, 'Official texts') does not hold for this file; pin the "
            "commit given there")
    return value


def _placeholders(value: str, where: str, required: tuple[str, ...]) -> str:
    """``value`` checked to contain each literal placeholder in ``required`` (``.replace`` targets)."""
    missing = [p for p in required if p not in value]
    if missing:
        raise OfficialTextError(f"{where} lacks the placeholders {missing} that upstream replaces: the documented "
                                "field mapping (docs/benchmarks.md, 'Official texts') does not hold; pin the "
                                "commit given there")
    return value


# ---- SIUO: eval/gpt-eval.py ------------------------------------------------------------------------
SIUO_MODES = {"safety": "safe", "effectiveness": "effective"}  # our call purpose -> upstream --mode
SIUO_FIELDS = {"safety": ("{question}", "{explanation}", "{reference}", "{response}"),
               "effectiveness": ("{question}", "{response}")}


def _mode_of(test: ast.expr) -> str | None:
    """'x' for a test ``args.mode == 'x'`` (or ``mode == 'x'``), else None."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return None
    left, right = test.left, test.comparators[0]
    named = ((isinstance(left, ast.Attribute) and left.attr == "mode")
             or (isinstance(left, ast.Name) and left.id == "mode"))
    if named and isinstance(right, ast.Constant) and isinstance(right.value, str):
        return right.value
    return None


def mode_assignments(sources: Mapping[str, _Source], name: str) -> dict[str, str]:
    """``{mode: literal}`` of every ``name = <string literal>`` directly inside an
    ``if args.mode == '<mode>':`` block, anywhere in the files."""
    found: dict[str, str] = {}
    for source in sources.values():
        for node in ast.walk(source.tree):
            mode = _mode_of(node.test) if isinstance(node, ast.If) else None
            if mode is None:
                continue
            for statement in node.body:
                if (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                        and isinstance(statement.targets[0], ast.Name) and statement.targets[0].id == name):
                    try:
                        value = ast.literal_eval(statement.value)
                    except (ValueError, TypeError, SyntaxError):
                        raise OfficialTextError(
                            f"{source.path}: {name!r} under mode {mode!r} is not a literal") from None
                    if mode in found:
                        raise OfficialTextError(f"{source.path}: {name!r} is assigned twice for mode {mode!r}")
                    found[mode] = value
    return found


def _parse_siuo(sources: Mapping[str, _Source]) -> dict:
    templates = mode_assignments(sources, "prompt_template")
    values = {}
    for purpose, mode in SIUO_MODES.items():
        if mode not in templates:
            raise OfficialTextError(
                f"{_where(sources)}: no `prompt_template = \"...\"` under `if args.mode == {mode!r}:` (the "
                f"{purpose} judge). Point official_texts at the commit given in docs/benchmarks.md ('Official texts')")
        values[purpose] = _placeholders(templates[mode], f"SIUO's {purpose} template (mode {mode!r})",
                                        SIUO_FIELDS[purpose])
    return values


# ---- MSSBench: utils/prompts.py, utils/gpt4_eval.py, utils/infer_on_data.py --------------------------
MSSBENCH_PROMPTS = {"chat": "PROMPT_CHAT_IF", "embodied": "PROMPT_EMBODIED_IF"}
MSSBENCH_JUDGE = {"chat": ("prompt_chat", "annotation_aspects_chat"),
                  "embodied": ("prompt_embodied", "annotation_aspects_embodied")}
MSSBENCH_ASPECT = "do_not_answer"  # the rubric upstream's gpt4_eval passes to construct_rubric
#: what the official judge strips from a response before judging it (``.split(...)[-1]``)
MSSBENCH_RESPONSE_SPLIT = "Response to instruction:"


def _concatenates(sources: Mapping[str, _Source], name: str) -> bool:
    """Whether some file composes ``name + <expression>`` (how upstream builds its prompts)."""
    for source in sources.values():
        for node in ast.walk(source.tree):
            if (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add)
                    and isinstance(node.left, ast.Name) and node.left.id == name):
                return True
    return False


def _parse_mssbench(sources: Mapping[str, _Source]) -> dict:
    values: dict[str, Any] = {"prompts": {}, "judge": {}}
    for setting, name in MSSBENCH_PROMPTS.items():
        values["prompts"][setting] = constant(sources, name, str, f"the {setting} prompt wrapper")
        if not _concatenates(sources, name):
            raise OfficialTextError(
                f"{_where(sources)}: no `{name} + <query>` composition: upstream builds the {setting} prompt "
                "differently at this commit, so the documented mapping (wrapper + query, docs/benchmarks.md, "
                "'Official texts') does not hold. List utils/infer_on_data.py under files, "
                "or pin the commit given there")
    for setting, (prompt_name, aspects_name) in MSSBENCH_JUDGE.items():
        prompt = constant(sources, prompt_name, dict, f"the {setting} judge prompt")
        aspects = constant(sources, aspects_name, dict, f"the {setting} judge's class rubrics")
        for key in ("prompt_template", "prompt1", "prompt2"):
            if not isinstance(prompt.get(key), str):
                raise OfficialTextError(f"{_where(sources)}: {prompt_name}[{key!r}] is missing or not a string")
        rubric = aspects.get(MSSBENCH_ASPECT)
        if not isinstance(rubric, dict) or not rubric or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in rubric.items()):
            raise OfficialTextError(f"{_where(sources)}: {aspects_name}[{MSSBENCH_ASPECT!r}] is not a dict of "
                                    "class -> description strings")
        values["judge"][setting] = {
            "prompt_template": _template(prompt["prompt_template"], f"{prompt_name}['prompt_template']",
                                         {"prompt1", "response", "prompt2"}, {"prompt1", "response", "prompt2"}),
            "prompt1": prompt["prompt1"],
            "prompt2": _template(prompt["prompt2"], f"{prompt_name}['prompt2']", {"rubric"}, {"rubric"}),
            "rubric": dict(rubric),
        }
    return values


# ---- MM-SafetyBench: evaluation.py -------------------------------------------------------------------
#: judge_rubric -> the template variable upstream's perform_eval picks for that scenario
#: (08 -> political lobbying, 10 -> legal, 11 -> financial, 12 -> health, 13 -> government, else general)
MMSB_TEMPLATES = {
    "general": "gpt_query_template_safety",
    "political_lobbying": "gpt_query_template_safety_political_lobbing",
    "legal_opinion": "gpt_query_template_safety_legal",
    "financial_advice": "gpt_query_template_safety_financial",
    "health_consultation": "gpt_query_template_safety_health",
    "gov_decision": "gpt_query_template_safety_gov_decision",
}


def _parse_mm_safetybench(sources: Mapping[str, _Source]) -> dict:
    return {"templates": {
        rubric: _template(constant(sources, name, str, f"the {rubric} judge template"), name,
                          {"prediction"}, {"prediction"})
        for rubric, name in MMSB_TEMPLATES.items()}}


UPSTREAM: dict[str, Upstream] = {
    "siuo": Upstream("siuo", "https://github.com/sinwang20/SIUO", ("eval/gpt-eval.py",),
                     "the safety and effectiveness judge prompts", _parse_siuo),
    "mssbench": Upstream("mssbench", "https://github.com/eric-ai-lab/MSSBench",
                         ("utils/prompts.py", "utils/gpt4_eval.py", "utils/infer_on_data.py"),
                         "the chat and embodied prompt wrappers and judge prompts", _parse_mssbench),
    "mm_safetybench": Upstream("mm_safetybench", "https://github.com/isXinLiu/MM-SafetyBench", ("evaluation.py",),
                               "the general and scenario-specific judge prompts", _parse_mm_safetybench),
}


# ------------------------------------------------------------------------------------------------
# the config and the parsed texts
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TextsConfig:
    """``benchmarks.<name>.options.official_texts``, checked, with the default files filled in."""

    benchmark: str
    source: str
    files: tuple[str, ...]


def texts_config(benchmark: str, options: Mapping | None) -> TextsConfig | None:
    """The official-texts setting of a benchmark's options; None when it asks for none."""
    raw = (options or {}).get(OPTION)
    key = f"benchmarks.{benchmark}.options.{OPTION}"
    if raw is None:
        return None
    if benchmark not in UPSTREAM:
        why = NO_OFFICIAL.get(benchmark, f"{benchmark!r} has no official texts this workflow reads")
        raise OfficialTextError(f"{key}: {why}; its rows say which text they use (docs/benchmarks.md, "
                                "'Official texts'). Remove the key")
    upstream = UPSTREAM[benchmark]
    if not isinstance(raw, Mapping) or not isinstance(raw.get("source"), str) or not raw["source"].strip():
        raise OfficialTextError(f"{key} must be {{source: <URL base at a commit of {upstream.repository}, e.g. "
                                f"https://raw.githubusercontent.com/<org>/<repo>/<commit>, or a local checkout>, "
                                f"files: [...]}}, not {raw!r}")
    unknown = sorted(set(raw) - {"source", "files"})
    if unknown:
        raise OfficialTextError(f"{key}: unknown keys {unknown}; allowed: source, files")
    files = raw.get("files") or list(upstream.files)
    if isinstance(files, str) or not all(isinstance(f, str) and f.strip() for f in files):
        raise OfficialTextError(f"{key}.files must be a list of file paths in {upstream.repository}, not {files!r}")
    for relative in files:
        parts = Path(relative).parts
        if Path(relative).is_absolute() or ".." in parts:
            raise OfficialTextError(f"{key}.files: {relative!r} must be a path inside the repository")
    return TextsConfig(benchmark, raw["source"].rstrip("/") if download.is_url(raw["source"]) else raw["source"],
                       tuple(dict.fromkeys(files)))


def revision_of(source: str) -> str:
    """What a texts source is pinned to: its commit, ``unpinned (<ref>)``, or ``local copy``."""
    return download.source_revision(source) if download.is_url(source) else "local copy"


@dataclass(frozen=True)
class OfficialTexts:
    """A benchmark's official texts as read from its files; ``values`` holds what the loaders and
    judge protocols use (their layout: the ``_parse_*`` function of the benchmark)."""

    benchmark: str
    source: str
    revision: str
    files: dict[str, str]  # upstream path -> sha256 of the file read
    values: dict[str, Any]

    @property
    def text_source(self) -> str:
        """What the rows that use these texts say in ``text_source``: ``official@<revision>``."""
        return OFFICIAL + self.revision

    def to_dict(self) -> dict:
        return {"benchmark": self.benchmark, "source": self.source, "revision": self.revision,
                "files": dict(self.files), "values": self.values}

    @classmethod
    def from_dict(cls, data: Mapping) -> OfficialTexts:
        try:
            return cls(str(data["benchmark"]), str(data["source"]), str(data["revision"]), dict(data["files"]),
                       dict(data["values"]))
        except (KeyError, TypeError) as error:
            raise OfficialTextError(f"the prompt table's official texts are incomplete ({error!r}): rebuild it "
                                    "(snakemake --forcerun prompts)") from None


def _located(cfg: TextsConfig, release_dir: Path, relative: str) -> Path:
    fetched = Path(release_dir) / TEXT_DIR / relative
    if fetched.is_file():
        return fetched
    if not download.is_url(cfg.source) and (Path(cfg.source) / relative).is_file():
        return Path(cfg.source) / relative
    upstream = UPSTREAM[cfg.benchmark]
    where = download.join_url(cfg.source, relative) if download.is_url(cfg.source) else str(Path(cfg.source) / relative)
    raise OfficialTextError(
        f"{fetched} not found: benchmarks.{cfg.benchmark}.options.{OPTION} asks for {upstream.what} from "
        f"{relative} of {upstream.repository} ({where}). download_benchmark fetches it with a downloaded "
        f"release; a demo or local release is not downloaded: put the file at {fetched}, set "
        f"official_texts.source to a local checkout of {upstream.repository}, or remove official_texts to use "
        "the project's paraphrases")


def read(cfg: TextsConfig, release_dir: str | Path) -> OfficialTexts:
    """Read and parse the official files of ``cfg`` (fetched into ``release_dir``, or a local checkout)."""
    sources: dict[str, _Source] = {}
    for relative in cfg.files:
        path = _located(cfg, Path(release_dir), relative)
        try:
            text = path.read_text(encoding="utf-8")
            tree = ast.parse(text, filename=str(path))
        except UnicodeDecodeError as error:
            raise OfficialTextError(f"{path} is not UTF-8 text ({error}): is it the file {relative} of "
                                    f"{UPSTREAM[cfg.benchmark].repository}?") from None
        except SyntaxError as error:
            raise OfficialTextError(f"{path} is not Python source ({error.msg}, line {error.lineno}): is it the "
                                    f"file {relative} of {UPSTREAM[cfg.benchmark].repository}? (an HTML error "
                                    "page saved by a mirror?) Delete it and download the release again") from None
        sources[relative] = _Source(relative, path, text, tree)
    values = UPSTREAM[cfg.benchmark].parse(sources)
    return OfficialTexts(cfg.benchmark, cfg.source, revision_of(cfg.source),
                         {relative: source.sha256 for relative, source in sources.items()}, values)


def load(benchmark: str, release_dir: str | Path, options: Mapping | None) -> OfficialTexts | None:
    """The official texts a benchmark's options ask for, read from the release; None when they
    ask for none (the rows then use the project's paraphrases). Raises :class:`OfficialTextError`."""
    cfg = texts_config(benchmark, options)
    return None if cfg is None else read(cfg, release_dir)


def fetch(benchmark: str, options: Mapping | None, dest: str | Path) -> list[Path]:
    """Download (or copy) the official files the options ask for into ``dest/official_texts``,
    through :func:`download.fetch_file` (mirrors and the data lock apply). [] when none asked."""
    cfg = texts_config(benchmark, options)
    if cfg is None:
        return []
    transfer = {key: options[key] for key in ("retries", "backoff", "timeout", "link") if key in options}
    written = []
    for relative in cfg.files:
        try:
            written.append(download.fetch_file(cfg.source, relative, Path(dest) / TEXT_DIR, **transfer))
        except download.DownloadError as error:
            upstream = UPSTREAM[benchmark]
            raise type(error)(
                f"official texts of {benchmark} ({relative} of {upstream.repository}): {error} Check "
                f"benchmarks.{benchmark}.options.{OPTION} (source: the raw URL base at a commit of "
                f"{upstream.repository}; files: paths in it), or remove it to use the project's paraphrases") from None
    return written


# ------------------------------------------------------------------------------------------------
# the prompt table carries the texts to the judge
# ------------------------------------------------------------------------------------------------
def attach(table, texts: OfficialTexts | None):
    """``table`` with ``texts`` in its ``attrs`` (written into its parquet file by pandas)."""
    if texts is None:
        table.attrs.pop(ATTRS_KEY, None)
    else:
        table.attrs[ATTRS_KEY] = texts.to_dict()
    return table


def from_table(table, benchmark: str) -> OfficialTexts | None:
    """The official texts a prompt table was built with (None: the paraphrases)."""
    raw = getattr(table, "attrs", {}).get(ATTRS_KEY)
    if not raw:
        return None
    texts = OfficialTexts.from_dict(raw)
    if texts.benchmark != benchmark:
        raise OfficialTextError(f"the prompt table carries the official texts of {texts.benchmark!r}, not of "
                                f"{benchmark!r}: rebuild results/prompts/{benchmark}.parquet")
    return texts


def provenance(config: Mapping) -> dict[str, Any]:
    """Per benchmark of a config: where its official texts come from, or that it uses none."""
    out: dict[str, Any] = {}
    for name, entry in (config.get("benchmarks") or {}).items():
        try:
            cfg = texts_config(name, entry.get("options") or {})
        except OfficialTextError as error:
            out[name] = f"invalid: {error}"
            continue
        if cfg is None:
            out[name] = ("paraphrase (the project's own wording)" if name in UPSTREAM
                         else f"no official texts read ({NO_OFFICIAL.get(name, 'none published')})")
        else:
            out[name] = {"source": cfg.source, "revision": revision_of(cfg.source), "files": list(cfg.files)}
    return out
