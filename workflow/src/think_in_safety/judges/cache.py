"""The judge cache: every judge reply, keyed by (judge model, endpoint, prompt version, inputs).

A repeated run with the same judge makes no calls, and a run that was interrupted (or failed on
an outage) resumes where it stopped: each reply is committed as soon as it arrives. The cache is
one SQLite file, shared by all judges and by concurrent Snakemake jobs (SQLite locks the file;
writers wait up to :data:`BUSY_TIMEOUT_S`). Only replies are stored, never failures, so a rerun
retries exactly the calls that failed. Parsing is redone from the stored reply on every run.

The key (:func:`cache_key`) is the SHA-256 of a canonical JSON of the judge model, the endpoint,
the prompt version, the messages (images as the SHA-256 of their bytes, not their path) and the
decoding settings that change a reply (temperature, max tokens, ...). The API key is not part of it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: Default location, relative to the workflow's working directory.
DEFAULT_CACHE_PATH = "resources/judge_cache/judge_replies.sqlite"
BUSY_TIMEOUT_S = 120.0


def cache_key(model: str, endpoint: str, prompt_version: str, messages: Any, settings: Mapping[str, Any]) -> str:
    """SHA-256 hex digest identifying one judge call (see the module docstring)."""
    canonical = json.dumps(
        {"model": model, "endpoint": endpoint, "prompt_version": prompt_version, "messages": messages,
         "settings": dict(settings)},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class JudgeCache:
    """Reply store. ``path`` None keeps nothing (every call is made); counters say what happened."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self.hits = 0
        self.misses = 0
        self.stored = 0
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
            with self._connection:
                self._connection.execute(
                    "CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, reply TEXT NOT NULL, "
                    "model TEXT, endpoint TEXT, prompt_version TEXT, created REAL)"
                )

    def get(self, key: str) -> str | None:
        """The stored reply of ``key``, counting a hit or a miss."""
        reply = None
        if self._connection is not None:
            with self._lock:
                row = self._connection.execute("SELECT reply FROM replies WHERE key = ?", (key,)).fetchone()
            reply = row[0] if row else None
        if reply is None:
            self.misses += 1
        else:
            self.hits += 1
        return reply

    def put(self, key: str, reply: str, *, model: str = "", endpoint: str = "", prompt_version: str = "") -> None:
        """Store ``reply`` now (committed), so an interrupted run keeps it."""
        if self._connection is None:
            return
        with self._lock, self._connection:
            self._connection.execute(
                "INSERT OR REPLACE INTO replies (key, reply, model, endpoint, prompt_version, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (key, reply, model, endpoint, prompt_version, time.time()),
            )
        self.stored += 1

    def __len__(self) -> int:
        if self._connection is None:
            return 0
        with self._lock:
            return self._connection.execute("SELECT COUNT(*) FROM replies").fetchone()[0]

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
