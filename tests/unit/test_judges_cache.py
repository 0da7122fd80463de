"""The judge reply cache: what the key depends on, persistence, the prepared calls' keys, the
one-file-per-entry layout under concurrent writers, and the import of earlier SQLite caches."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import random
import sqlite3
from pathlib import Path
from unittest.mock import patch

from think_in_safety.judges import make_judge
from think_in_safety.judges.cache import JudgeCache, cache_key
from think_in_safety.judges.protocols import JudgeCall, image, text, user

MESSAGES = [{"role": "user", "content": [{"type": "text", "value": "Answer: hi"}]}]
BASE = ("gpt-4o", "https://api.example.org/v1", "harm-judge-v1", MESSAGES, {"temperature": 0.0})


def test_key_depends_on_model_endpoint_version_inputs_and_settings():
    key = cache_key(*BASE)
    assert key == cache_key(*BASE)
    variants = [
        ("gpt-4o-mini", *BASE[1:]),
        (BASE[0], "http://127.0.0.1:8000/v1", *BASE[2:]),
        (*BASE[:2], "harm-judge-v2", *BASE[3:]),
        (*BASE[:3], [{"role": "user", "content": [{"type": "text", "value": "Answer: hello"}]}], BASE[4]),
        (*BASE[:4], {"temperature": 0.7}),
    ]
    assert len({cache_key(*variant) for variant in variants} | {key}) == len(variants) + 1


def test_replies_persist_across_instances(tmp_path):
    path = tmp_path / "cache" / "replies.sqlite"
    first = JudgeCache(path)
    assert first.get("k") is None and first.misses == 1
    first.put("k", "unsafe", model="m", endpoint="e", prompt_version="v")
    first.close()
    second = JudgeCache(path)
    assert second.get("k") == "unsafe" and second.hits == 1 and len(second) == 1
    second.close()


def test_no_cache_keeps_nothing(tmp_path):
    cache = JudgeCache(None)
    cache.put("k", "safe")
    assert cache.get("k") is None and len(cache) == 0


def test_image_enters_the_key_by_content_not_path(tmp_path):
    judge = make_judge("j", {"backend": "openai_compatible", "base_url": "http://127.0.0.1:1/v1", "model": "m",
                             "api_key_env": None, "cache": None})
    a, b, c = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    a.write_bytes(b"same bytes")
    b.write_bytes(b"same bytes")
    c.write_bytes(b"other bytes")

    def key(path):
        return judge.prepare(JudgeCall("safety", "siuo-judge-v1/safety", (user(image(str(path)), text("q")),))).key

    assert key(a) == key(b) != key(c)


# ------------------------------------------------------------------------- layout, concurrency


def test_an_entry_is_one_file_named_by_the_key_digest(tmp_path):
    cache = JudgeCache(tmp_path / "replies")
    cache.put("k", "unsafe", model="m", endpoint="e", prompt_version="v")
    digest = hashlib.sha256(b"k").hexdigest()
    path = tmp_path / "replies" / digest[:2] / f"{digest}.json"
    assert cache.entry_path("k") == path
    entry = json.loads(path.read_text())
    assert entry["key"] == "k" and entry["reply"] == "unsafe" and entry["prompt_version"] == "v"
    assert entry["sha256"] == hashlib.sha256(b"unsafe").hexdigest()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind
    # a configured .sqlite path (the earlier default) names the folder without the suffix
    assert JudgeCache(tmp_path / "replies.sqlite").get("k") == "unsafe"


def test_damaged_entries_and_stray_temporary_files_are_misses_then_repaired(tmp_path):
    cache = JudgeCache(tmp_path / "replies")
    cache.put("a", "safe")
    cache.put("b", "unsafe")
    cache.entry_path("a").write_text('{"key": "a", "reply": "saf')  # torn (what publishing by rename rules out)
    tampered = json.loads(cache.entry_path("b").read_text())
    cache.entry_path("b").write_text(json.dumps({**tampered, "reply": "safe"}))  # checksum no longer matches
    stray = cache.entry_path("c").parent / f".{cache.entry_path('c').stem}.host.1.x.tmp"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_text("half an entry")  # a writer killed before its rename
    assert cache.get("a") is None and cache.get("b") is None and cache.get("c") is None
    assert len(cache) == 2  # the temporary file is no entry
    cache.put("a", "safe")
    assert JudgeCache(tmp_path / "replies").get("a") == "safe"


def _reply(index: int) -> str:
    """A reply of its key only (one call always gets one reply); lengths up to ~200 kB, so a
    reader would catch a half-written file."""
    return f"reply {index} " + "x" * (17 * index * index % 200_000)


def _published(cache: JudgeCache, key: str) -> str | None:
    """The reply in the entry file as it is on disk now (None: no file), with no tolerance: a
    file that is there must be whole (JSONDecodeError or KeyError otherwise)."""
    try:
        raw = cache.entry_path(key).read_bytes()
    except FileNotFoundError:
        return None
    return json.loads(raw)["reply"]


def _writer(folder: str, worker: int, n_keys: int, start, failures) -> None:
    """One job: every key of its overlapping share, in its own order, reading as it goes."""
    try:
        rng = random.Random(worker)
        mine = [i for i in range(n_keys) if (i + worker) % 3 != 0]  # each key written by several workers
        rng.shuffle(mine)
        cache = JudgeCache(folder)
        start.wait()
        for index in mine:
            for key in (f"key-{index}", f"key-{rng.randrange(n_keys)}"):  # its own key, and maybe another's
                expected = _reply(int(key.split("-")[1]))
                seen, published = cache.get(key), _published(cache, key)
                if seen not in (None, expected) or published not in (None, expected):
                    raise AssertionError(f"{key} read back damaged")
            cache.put(f"key-{index}", _reply(index), model="m", endpoint="e", prompt_version="v1")
        cache.close()
    except BaseException as exc:  # reported to the parent, which fails the test
        failures.put(f"worker {worker}: {type(exc).__name__}: {exc}")
        raise


def test_concurrent_writers_lose_and_corrupt_nothing(tmp_path):
    context = multiprocessing.get_context("fork")
    n_workers, n_keys = 6, 300
    start, failures = context.Barrier(n_workers), context.Queue()
    folder = str(tmp_path / "judge_replies")
    workers = [context.Process(target=_writer, args=(folder, w, n_keys, start, failures)) for w in range(n_workers)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    problems = [failures.get() for _ in range(failures.qsize())] if not failures.empty() else []
    assert not problems and [w.exitcode for w in workers] == [0] * n_workers, problems
    cache = JudgeCache(folder)
    assert len(cache) == n_keys
    assert all(cache.get(f"key-{index}") == _reply(index) for index in range(n_keys)) and cache.hits == n_keys
    assert not list(Path(folder).glob("*/.*.tmp"))


# ------------------------------------------------------------------------- earlier SQLite caches


def _legacy_cache(path: Path, rows: dict[str, str]) -> None:
    """An SQLite cache as earlier versions of this workflow wrote it."""
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, reply TEXT NOT NULL, "
                           "model TEXT, endpoint TEXT, prompt_version TEXT, created REAL)")
        connection.executemany("INSERT INTO replies VALUES (?, ?, 'm', 'e', 'v1', 0)", rows.items())
    connection.close()


def test_an_earlier_sqlite_cache_is_imported_once_and_newer_entries_win(tmp_path):
    legacy = tmp_path / "judge_replies.sqlite"
    _legacy_cache(legacy, {f"old-{i}": f"paid reply {i}" for i in range(50)} | {"both": "old reply"})
    folder = tmp_path / "judge_replies"  # the new default location next to the earlier default file
    newer = JudgeCache(folder)  # imports now ...
    assert newer.imported == 51
    newer.put("both", "new reply")
    again = JudgeCache(folder)
    assert again.imported == 0  # ... and once: the marker matches the file
    legacy.unlink()  # the replies live in the folder now
    after = JudgeCache(folder)
    assert all(after.get(f"old-{i}") == f"paid reply {i}" for i in range(50)) and after.get("both") == "new reply"
    # the earlier file changed (an older checkout kept writing): only what is new is imported
    _legacy_cache(legacy, {"old-1": "paid reply 1", "later": "later reply"})
    grown = JudgeCache(tmp_path / "judge_replies.sqlite")  # the earlier configured path works too
    assert grown.imported == 1 and grown.get("later") == "later reply"


def test_an_unreadable_sqlite_cache_is_looked_up_on_misses(tmp_path, caplog):
    legacy = tmp_path / "judge_replies.sqlite"
    _legacy_cache(legacy, {"k": "paid reply"})
    folder = tmp_path / "judge_replies"
    real = JudgeCache._connect_read_only
    opened = []

    def flaky(path):  # the bulk import fails, as on a locked or flaky file system; later opens work
        opened.append(path)
        if len(opened) == 1:
            raise sqlite3.OperationalError("database is locked")
        return real(path)

    with patch.object(JudgeCache, "_connect_read_only", staticmethod(flaky)):
        cache = JudgeCache(folder)
    assert "cannot import the earlier SQLite cache" in caplog.text
    assert cache.get("k") == "paid reply" and cache.get("absent") is None
    cache.close()
    legacy.unlink()
    assert JudgeCache(folder).get("k") == "paid reply"  # copied into the folder on the way
