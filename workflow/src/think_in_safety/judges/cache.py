"""The judge cache: every judge reply, keyed by (judge model, endpoint, prompt version, inputs).

A repeated run with the same judge makes no calls, and a run that was interrupted (or failed on
an outage) resumes where it stopped: each reply is stored as soon as it arrives. Only replies are
stored, never failures, so a rerun retries exactly the calls that failed. Parsing is redone from
the stored reply on every run.

The key (:func:`cache_key`) is the SHA-256 of a canonical JSON of the judge model, the endpoint,
the prompt version, the messages (images as the SHA-256 of their bytes, not their path) and the
decoding settings that change a reply (temperature, max tokens, ...). The API key is not part of it.

Layout: one small file per entry, so that many concurrent jobs, on many hosts, on a network file
system (NFS), never lose or corrupt an entry (a single SQLite file there is a known way to lose
writes or to fail with "database is locked")::

    <cache>/                          the configured path (judges.<name>.cache); a path ending
                                      in .sqlite/.sqlite3/.db names the folder without it
        ab/abcdef....json             an entry; its name is the SHA-256 of the key, the first two
                                      hex digits the subfolder (at most 256 per folder level)
        ab/.abcdef....<host>.<pid>.<random>.tmp
                                      an entry being written (left behind only by a killed writer;
                                      never read, safe to delete)
        .imported-<name>-<size>-<mtime>  marker: that legacy SQLite file was imported

An entry is a JSON object: ``key``, ``reply``, ``sha256`` (of the reply's UTF-8 bytes),
``model``, ``endpoint``, ``prompt_version``, ``created`` (Unix time), ``format`` (1).

Writing (:meth:`JudgeCache.put`): the entry goes to a temporary file of a unique name in the
entry's own folder, is flushed and fsynced, and is published with ``os.replace`` — a rename
within one directory, atomic on local file systems and on NFS: a reader sees the old entry, the
new one, or none, never a partial file. Two jobs writing the same key write the same reply (the
same call), and the last rename wins. NFS may answer a retransmitted rename that had succeeded
with "no such file": the entry is then checked in place. Reading takes no lock; an entry whose
key or checksum does not match (which publishing by rename rules out, short of disk damage) is
a miss, and the next reply replaces it. NFS close-to-open consistency makes an entry published
on one host readable on another once it is opened after the rename; an entry written meanwhile
by a job elsewhere may be missed (the call is made again, nothing is lost).

Earlier runs kept the cache in one SQLite file (table ``replies``). When ``<cache>.sqlite`` (or
the configured .sqlite path itself) exists, its replies are imported into the folder once —
entries already in the folder are kept — and a marker records the file's size and modification
time, so it is read again only if it changes. Should it be unreadable, a warning is logged and
each miss is looked up in it read-only instead: paid replies are never lost.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: Default location (a folder), relative to the workflow's working directory.
DEFAULT_CACHE_PATH = "resources/judge_cache/judge_replies"
#: Suffixes of a configured path that names a (legacy) SQLite file rather than the folder.
SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
ENTRY_FORMAT = 1
#: Attempts at reading an entry that NFS reports as stale (replaced while being opened).
STALE_RETRIES = 3


def cache_key(model: str, endpoint: str, prompt_version: str, messages: Any, settings: Mapping[str, Any]) -> str:
    """SHA-256 hex digest identifying one judge call (see the module docstring)."""
    canonical = json.dumps(
        {"model": model, "endpoint": endpoint, "prompt_version": prompt_version, "messages": messages,
         "settings": dict(settings)},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def cache_locations(path: str | Path) -> tuple[Path, Path]:
    """(entry folder, legacy SQLite file) of a configured cache path (module docstring)."""
    path = Path(path)
    if path.suffix.lower() in SQLITE_SUFFIXES:
        return path.with_suffix(""), path
    return path, path.with_name(path.name + ".sqlite")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class JudgeCache:
    """Reply store. ``path`` None keeps nothing (every call is made); counters say what happened."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self.hits = 0
        self.misses = 0
        self.stored = 0
        self.imported = 0  # entries copied from a legacy SQLite file by this instance
        self._lock = threading.Lock()
        self._legacy: sqlite3.Connection | None = None  # fallback when the import failed
        self.folder: Path | None = None
        self.legacy_path: Path | None = None
        if self.path is not None:
            self.folder, self.legacy_path = cache_locations(self.path)
            self.folder.mkdir(parents=True, exist_ok=True)
            if self.legacy_path.is_file():
                self._import_legacy(self.legacy_path)

    # ------------------------------------------------------------------------------ entries

    def entry_path(self, key: str) -> Path:
        """Where the entry of ``key`` lives (see the module docstring)."""
        if self.folder is None:
            raise ValueError("this cache keeps nothing (path None)")
        digest = _digest(key)
        return self.folder / digest[:2] / f"{digest}.json"

    def _read(self, key: str) -> str | None:
        """The reply of a valid entry of ``key``, else None; no lock, no side effect."""
        path = self.entry_path(key)
        for attempt in range(1, STALE_RETRIES + 1):
            try:
                raw = path.read_bytes()
                break
            except FileNotFoundError:
                return None
            except OSError as exc:  # ESTALE: replaced on the server while we opened it
                if exc.errno != errno.ESTALE or attempt == STALE_RETRIES:
                    log.warning("judge cache: cannot read %s (%s); treated as a miss", path, exc)
                    return None
        try:
            entry = json.loads(raw)
            reply = entry["reply"]
            valid = entry["key"] == key and isinstance(reply, str) and entry["sha256"] == _digest(reply)
        except (ValueError, KeyError, TypeError):
            valid = False
        if not valid:
            log.warning("judge cache: %s is not a valid entry of its key; treated as a miss", path)
            return None
        return reply

    def _write(self, key: str, reply: str, model: str, endpoint: str, prompt_version: str,
               created: float | None = None) -> None:
        """Publish an entry atomically: temporary file in the same folder, fsync, os.replace."""
        path = self.entry_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        entry = {"key": key, "reply": reply, "sha256": _digest(reply), "model": model, "endpoint": endpoint,
                 "prompt_version": prompt_version, "created": time.time() if created is None else created,
                 "format": ENTRY_FORMAT}
        data = json.dumps(entry, ensure_ascii=False, sort_keys=True).encode("utf-8")
        temporary = path.with_name(f".{path.stem}.{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
        try:
            with open(temporary, "xb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.replace(temporary, path)
            except FileNotFoundError:  # NFS: a retransmitted rename that had in fact succeeded
                if self._read(key) != reply:
                    raise
        finally:
            if temporary.exists():
                temporary.unlink()

    def get(self, key: str) -> str | None:
        """The stored reply of ``key``, counting a hit or a miss."""
        reply = None
        if self.folder is not None:
            reply = self._read(key)
            if reply is None and self._legacy is not None:
                reply = self._legacy_lookup(key)
        with self._lock:
            if reply is None:
                self.misses += 1
            else:
                self.hits += 1
        return reply

    def put(self, key: str, reply: str, *, model: str = "", endpoint: str = "", prompt_version: str = "") -> None:
        """Store ``reply`` now (published before this returns), so an interrupted run keeps it."""
        if self.folder is None:
            return
        self._write(key, reply, model, endpoint, prompt_version)
        with self._lock:
            self.stored += 1

    def __len__(self) -> int:
        """Entries in the folder (files being written not counted)."""
        if self.folder is None:
            return 0
        return sum(1 for path in self.folder.glob("??/*.json") if not path.name.startswith("."))

    def close(self) -> None:
        """Nothing is held open but a legacy SQLite fallback; entries are published on put."""
        if self._legacy is not None:
            self._legacy.close()
            self._legacy = None

    # ------------------------------------------------------------------------------ legacy

    def _marker(self, legacy: Path) -> Path:
        stat = legacy.stat()
        return self.folder / f".imported-{legacy.name}-{stat.st_size}-{stat.st_mtime_ns}"  # type: ignore[operator]

    @staticmethod
    def _connect_read_only(legacy: Path) -> sqlite3.Connection:
        return sqlite3.connect(f"{legacy.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0,
                               check_same_thread=False)

    def _import_legacy(self, legacy: Path) -> None:
        """Copy the replies of an earlier run's SQLite cache into the folder, once (module docstring)."""
        marker = self._marker(legacy)
        if marker.exists():
            return
        try:
            connection = self._connect_read_only(legacy)
            try:
                rows = connection.execute(
                    "SELECT key, reply, model, endpoint, prompt_version, created FROM replies").fetchall()
            finally:
                connection.close()
        except sqlite3.Error as exc:
            log.warning("judge cache: cannot import the earlier SQLite cache %s (%s); its replies are looked "
                        "up there on each miss instead (rerun to import it)", legacy, exc)
            try:
                self._legacy = self._connect_read_only(legacy)
            except sqlite3.Error as again:
                log.warning("judge cache: cannot open %s either (%s); its replies are not used", legacy, again)
            return
        for key, reply, model, endpoint, prompt_version, created in rows:
            if reply is None or self.entry_path(key).exists():
                continue
            self._write(key, reply, model or "", endpoint or "", prompt_version or "", created)
            self.imported += 1
        marker.write_text(json.dumps({"imported_from": str(legacy), "rows": len(rows), "at": time.time()}) + "\n")
        log.info("judge cache: imported %d replies (%d rows) from the earlier SQLite cache %s into %s",
                 self.imported, len(rows), legacy, self.folder)

    def _legacy_lookup(self, key: str) -> str | None:
        """A miss looked up in the legacy SQLite file (import failed); copied into the folder."""
        try:
            with self._lock:
                row = self._legacy.execute(  # type: ignore[union-attr]
                    "SELECT reply, model, endpoint, prompt_version, created FROM replies WHERE key = ?", (key,)
                ).fetchone()
        except sqlite3.Error as exc:
            log.warning("judge cache: lookup in %s failed (%s); treated as a miss", self.legacy_path, exc)
            return None
        if row is None or row[0] is None:
            return None
        self._write(key, row[0], row[1] or "", row[2] or "", row[3] or "", row[4])
        return row[0]
