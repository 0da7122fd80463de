"""What every LLM judge shares, whatever runs the model: protocol dispatch, the cache, per-row
audit fields, error accounting and the run's counts.

A backend (:class:`~.openai_compatible.OpenAICompatibleJudge`, :class:`~.local_model.
TransformersJudge`) subclasses :class:`ProtocolJudge` and implements :meth:`ProtocolJudge.
complete_calls`: given prepared calls, yield each one's :class:`Completion` or
:class:`CallFailure`. Everything else is here:

* each benchmark's protocol (:mod:`.protocols`) builds the calls and reads the replies; a prompt
  table built with a benchmark's official texts (``benchmarks.<name>.options.official_texts``)
  carries them, and :meth:`ProtocolJudge.judge` then sends them (:meth:`ProtocolJudge.use_texts`);
  every row's ``text_source`` says which text was sent;
* identical calls are made once; cached replies are not requested again (:mod:`.cache`);
* a call that fails after its retries becomes an ``error`` row with the reason, never a verdict;
  a judge reply that cannot be read becomes an ``unparsed`` row that keeps the raw reply;
* an endpoint problem that no retry can fix (bad key, unknown model) stops the run at once
  (:class:`JudgeEndpointError`), and so does a run whose error rows exceed
  ``max_error_fraction`` (:class:`JudgeRunError`): replies received so far stay in the cache,
  so the rerun resumes;
* :attr:`ProtocolJudge.stats` counts rows, cache hits, requests, retries and faults for the log.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import logging
import mimetypes
from abc import abstractmethod
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from think_in_safety import official_texts
from think_in_safety.judges.base import Judge, Row, Verdict, as_text
from think_in_safety.judges.cache import DEFAULT_CACHE_PATH, JudgeCache, cache_key
from think_in_safety.judges.protocols import JudgeCall, Protocol, Reply, protocols_for

log = logging.getLogger("think_in_safety.judges")


class JudgeEndpointError(RuntimeError):
    """The endpoint refuses every call (authentication, unknown model, wrong URL): retrying or
    recording per-row errors would not help; the message says what to fix."""


class JudgeRunError(RuntimeError):
    """Too many rows failed; the judgments are not written so that a rerun resumes."""


@dataclass(frozen=True)
class Completion:
    """A judge reply and what getting it took."""

    text: str
    requests: int = 1
    faults: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CallFailure:
    """A call that failed for good (after its retries, or a non-retryable error)."""

    reason: str
    requests: int = 0
    faults: Mapping[str, int] = field(default_factory=dict)


@dataclass
class PreparedCall:
    """A protocol call with its cache key and its images' bytes (read once)."""

    key: str
    call: JudgeCall
    images: dict[str, bytes]

    def data_url(self, path: str) -> str:
        """The image as a ``data:`` URL (how OpenAI-compatible endpoints take inline images)."""
        mime = mimetypes.guess_type(path)[0] or "image/png"
        return f"data:{mime};base64,{base64.b64encode(self.images[path]).decode('ascii')}"


@dataclass
class JudgeStats:
    """Counts of one judging run (one benchmark of one model), for the log."""

    rows: int = 0
    calls_needed: int = 0  # distinct judge calls the rows need
    cache_hits: int = 0
    requests: int = 0  # requests sent (attempts, retries included)
    completed: int = 0  # calls answered in this run
    failed: int = 0  # calls that failed after their retries
    faults: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)

    @property
    def retries(self) -> int:
        return self.requests - self.completed - self.failed

    def summary(self) -> str:
        faults = ", ".join(f"{kind} {n}" for kind, n in sorted(self.faults.items())) or "none"
        statuses = ", ".join(f"{status} {self.statuses.get(status, 0)}" for status in ("ok", "unparsed", "error"))
        return (f"{self.rows} rows ({statuses}); judge calls needed {self.calls_needed}: cache hits "
                f"{self.cache_hits}, calls made {self.completed + self.failed} (failed {self.failed}), "
                f"requests sent {self.requests} (retries {self.retries}); faults: {faults}")


def _image_paths(call: JudgeCall) -> list[str]:
    return call.image_paths()


class ProtocolJudge(Judge):
    """Base of the LLM judges: benchmark protocols, cache, audit columns, error accounting.

    Parameters (besides :class:`~.base.Judge`'s)
    ----------
    protocols:
        benchmark -> protocol name overrides of :func:`.protocols.default_protocols` (the registry's).
    siuo_effectiveness:
        Also ask SIUO's effectiveness judgement (a second call per response).
    cache:
        Path of the reply cache (SQLite), relative to the working directory; ``None`` or '' to
        keep nothing.
    max_error_fraction:
        Stop the run (nothing written, cache kept) when more than this fraction of rows failed.
    """

    #: ``endpoint`` of the cache key and the log: where the model runs
    endpoint: str = ""

    def __init__(self, name: str, *, protocols: Mapping[str, str] | None = None, siuo_effectiveness: bool = True,
                 cache: str | None = DEFAULT_CACHE_PATH, max_error_fraction: float = 0.05,
                 judge_target: str = "answer", empty_answer: str = "raw") -> None:
        super().__init__(name, judge_target=judge_target, empty_answer=empty_answer)
        self.protocols: dict[str, Protocol] = protocols_for(protocols, siuo_effectiveness=siuo_effectiveness)
        self._own_protocols = dict(self.protocols)  # without official texts
        self.cache_path = cache or None
        if not 0.0 <= float(max_error_fraction) <= 1.0:
            raise ValueError(f"judge {name!r}: max_error_fraction must be in [0, 1], not {max_error_fraction!r}")
        self.max_error_fraction = float(max_error_fraction)
        self.stats = JudgeStats()

    # ---------------------------------------------------------------- to implement
    @abstractmethod
    def settings(self) -> dict:
        """Decoding settings that change a reply (part of the cache key)."""

    @abstractmethod
    def complete_calls(self, calls: list[PreparedCall]) -> Iterator[tuple[PreparedCall, Completion | CallFailure]]:
        """Run ``calls`` (in any order, concurrently if it likes) and yield each with its outcome.
        Raise :class:`JudgeEndpointError` when no call can succeed."""

    # ---------------------------------------------------------------- identity
    def supports(self, benchmark: str) -> bool:
        return benchmark in self.protocols

    def identity_for(self, benchmark: str) -> str:
        """``name:model:<protocol version>[options]``, e.g. ``gpt4o:gpt-4o-2024-08-06:siuo-judge-v1``."""
        protocol = self.protocols.get(benchmark)
        return self._identity_with(protocol.version if protocol else self.version)

    def prompt_version_for(self, benchmark: str) -> str:
        protocol = self.protocols.get(benchmark)
        return protocol.version if protocol else self.version

    def text_source_for(self, benchmark: str) -> str:
        protocol = self.protocols.get(benchmark)
        return protocol.text_source() if protocol else official_texts.NONE

    # ---------------------------------------------------------------- official texts
    def use_texts(self, benchmark: str, texts: official_texts.OfficialTexts | None) -> None:
        """Judge ``benchmark`` with its official ``texts`` (None: the protocol's own text).

        A protocol chosen in the judge's ``protocols`` option that has no official texts of the
        benchmark (e.g. ``harmfulness`` for MM-SafetyBench) keeps its own text; the log and every
        row's ``text_source`` say so."""
        protocol = self._own_protocols.get(benchmark)
        if protocol is None:
            return
        if texts is None:
            self.protocols[benchmark] = protocol
        elif protocol.official_version is None or not protocol.supports(texts.benchmark):
            log.warning("judge %s: the prompts of %s carry its official texts (%s), but the protocol %r chosen "
                        "for it has none: judged with %r's own text (text_source %s)", self.name, benchmark,
                        texts.text_source, protocol.name, protocol.name, protocol.text_source())
            self.protocols[benchmark] = protocol
        else:
            self.protocols[benchmark] = protocol.with_texts(texts)

    def judge(self, prompts: pd.DataFrame, responses: pd.DataFrame, benchmark: str) -> pd.DataFrame:
        """:meth:`Judge.judge` with the official texts the prompt table carries, if any."""
        self.use_texts(benchmark, official_texts.from_table(prompts, benchmark))
        return super().judge(prompts, responses, benchmark)

    # ---------------------------------------------------------------- judging
    def judge_one(self, prompt_row: Row, response_row: Row) -> Verdict:
        return self.judge_pairs([(prompt_row, response_row)])[0]

    def prepare(self, call: JudgeCall) -> PreparedCall:
        """Read the call's images and compute its cache key. OSError when an image is missing."""
        images = {}
        for path in _image_paths(call):
            if path not in images:
                try:
                    images[path] = Path(path).read_bytes()
                except OSError as exc:
                    raise OSError(f"image {path!r} of the judge prompt cannot be read ({exc.strerror or exc}); "
                                  "judge from the workflow's working directory, "
                                  "where prompt image paths are rooted") from exc
        canonical = [
            {"role": message.role,
             "content": [{"type": part.kind, "value": part.value if part.kind == "text"
                          else "sha256:" + hashlib.sha256(images[part.value]).hexdigest()} for part in message.parts]}
            for message in call.messages
        ]
        key = cache_key(self.model, self.endpoint, call.prompt_version, canonical, self.settings())
        return PreparedCall(key, call, images)

    def judge_pairs(self, pairs: Iterable[tuple[Row, Row]]) -> list[Verdict]:
        pairs = list(pairs)
        self.stats = stats = JudgeStats(rows=len(pairs))
        plans: list[tuple[Protocol | None, list[tuple[str, str]], Verdict | None, str]] = []
        unique: dict[str, PreparedCall] = {}
        for prompt_row, response_row in pairs:
            benchmark = as_text(prompt_row.get("benchmark"))
            protocol = self.protocols.get(benchmark)
            if protocol is None:
                plans.append((None, [], Verdict.error(f"judge {self.name!r} has no protocol for {benchmark!r}"), ""))
                continue
            text, note = self.text_to_judge(response_row)
            if text is None:
                plans.append((protocol, [], Verdict.unparsed(note), note))
                continue
            try:
                prepared = [self.prepare(call) for call in protocol.calls(prompt_row, text)]
            except (ValueError, OSError) as exc:
                plans.append((protocol, [], Verdict.error(f"cannot build the judge prompt: {exc}"), note))
                continue
            for item in prepared:
                unique.setdefault(item.key, item)
            plans.append((protocol, [(item.call.purpose, item.key) for item in prepared], None, note))
        stats.calls_needed = len(unique)

        replies = self._replies(unique)

        verdicts = []
        charged: set[str] = set()
        for (prompt_row, _), (protocol, calls, early, note) in zip(pairs, plans):
            if early is not None:
                version = protocol.prompt_version(prompt_row) if protocol else ""
                verdicts.append(early.with_extras(prompt_version=version))
                continue
            row_replies = {purpose: replies[key] for purpose, key in calls}
            try:
                verdict = protocol.verdict(prompt_row, row_replies)
            except Exception as exc:  # noqa: BLE001 -- a protocol bug on one row is recorded on that row
                verdict = Verdict.error(f"{type(exc).__name__} while reading the judge reply: {exc}")
            if note and verdict.status == "ok":
                verdict = dataclasses.replace(verdict, rationale=note + verdict.rationale)
            first = replies[calls[0][1]] if calls else Reply("")  # no call: decided by a protocol rule
            new_keys = {key for _, key in calls} - charged
            charged |= new_keys
            verdicts.append(verdict.with_extras(
                prompt_version=protocol.prompt_version(prompt_row),
                judge_output=first.text if first.text is not None else "",
                judge_calls=sum(replies[key].calls for key in new_keys),
                cached=bool(calls) and all(replies[key].cached for _, key in calls),
            ))
        stats.statuses = Counter(verdict.status for verdict in verdicts)
        errors = stats.statuses.get("error", 0)
        if pairs and errors > self.max_error_fraction * len(pairs):
            reasons = Counter(v.rationale for v in verdicts if v.status == "error").most_common(3)
            raise JudgeRunError(
                f"judge {self.name!r}: {errors} of {len(pairs)} rows failed, more than max_error_fraction="
                f"{self.max_error_fraction}; most common reasons: {reasons}. Replies received so far are cached "
                f"({self.cache_path or 'cache disabled'}): fix the cause and rerun to resume."
            )
        return verdicts

    def _replies(self, unique: dict[str, PreparedCall]) -> dict[str, Reply]:
        """Cached replies, then the missing ones from the backend (each cached as it arrives)."""
        stats = self.stats
        cache = JudgeCache(self.cache_path)
        try:
            replies: dict[str, Reply] = {}
            for key in unique:
                text = cache.get(key)
                if text is not None:
                    replies[key] = Reply(text, cached=True)
            stats.cache_hits = cache.hits
            pending = [item for key, item in unique.items() if key not in replies]
            if pending:
                log.info("judge %s: %d calls to make (%d cached) on %s", self.name, len(pending), cache.hits,
                         self.endpoint)
            step = max(1, len(pending) // 10)
            for done, (item, outcome) in enumerate(self.complete_calls(pending), start=1):
                stats.requests += outcome.requests
                stats.faults.update(outcome.faults)
                if isinstance(outcome, Completion):
                    stats.completed += 1
                    cache.put(item.key, outcome.text, model=self.model, endpoint=self.endpoint,
                              prompt_version=item.call.prompt_version)
                    replies[item.key] = Reply(outcome.text, calls=outcome.requests)
                else:
                    stats.failed += 1
                    replies[item.key] = Reply(None, error=outcome.reason, calls=outcome.requests)
                if done % step == 0 or done == len(pending):
                    log.info("judge %s: %d/%d calls done (failed %d, faults %s)", self.name, done, len(pending),
                             stats.failed, dict(stats.faults))
            missing = [key for key in unique if key not in replies]
            if missing:
                raise RuntimeError(f"{type(self).__name__}.complete_calls returned no outcome for {len(missing)} calls")
            return replies
        finally:
            cache.close()
