"""Fetch benchmark releases: HTTP downloads that survive flaky networks, or copies of local mirrors.

Every benchmark's ``fetch`` goes through :func:`fetch_file` / :func:`fetch_files`, which accept a
*source* that is either an ``http(s)://`` URL base (the upstream repository's raw root or a
Hugging Face ``resolve/main`` root) or a local directory laid out like the upstream release.

HTTP downloads (:func:`http_download`)

* stream into ``<dest>.part`` and resume it with a ``Range`` request after an interruption;
* retry connection failures, timeouts, truncated bodies, HTTP 429 and 5xx with exponential backoff;
* optionally check a sha256 digest before the atomic rename to ``<dest>`` (a mismatch leaves no
  final file and deletes the bad ``.part`` so the next run starts clean);
* send ``Authorization: Bearer $HF_TOKEN`` to huggingface.co when that variable is set.

Google Drive share links (the image archives some benchmarks link from their READMEs) go through
:func:`resolve_google_drive`, which answers Drive's "cannot scan this file for viruses" page the
way a browser does (its form's confirm token) and then downloads like any other URL.

Two settings apply to every fetch inside :func:`configured` (the download rules wrap theirs in it):

* **mirrors** (config key ``mirrors``): URL prefix -> replacement, applied by :func:`mirror_url` to
  every request (raw GitHub, Hugging Face, Google Drive's endpoint); institutional mirrors and the
  loopback rehearsal host use it. The data lock stays keyed by the URL as configured.
* **the data lock** (``downloads.lock_file``): :func:`check_data_lock` records each downloaded
  file's URL, size and sha256 on first fetch and refuses a later download whose digest differs
  (:class:`DataLockError`: the file, both digests and the fix).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode, urljoin, urlparse

import requests

RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}
CHUNK_SIZE = 1 << 16
USER_AGENT = "think-in-safety-workflow/0.1 (+benchmark fetch)"


class DownloadError(RuntimeError):
    """A download or copy that cannot succeed without a change by the user (message says which)."""


class NotFoundError(DownloadError):
    """The source has no such file (HTTP 404, or a missing file in a local mirror)."""


class DataLockError(DownloadError):
    """A download whose sha256 differs from the one the data lock recorded for its URL."""


class _RetryableError(Exception):
    """A transient failure: the caller sleeps and tries again (resuming the .part file)."""


# --------------------------------------------------------------------------------------------
# settings of every fetch: mirrors and the data lock
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DownloadSettings:
    """What :func:`configured` sets for the fetches of one job."""

    lock_file: Path | None = None
    mirrors: dict[str, str] = field(default_factory=dict)


_SETTINGS = DownloadSettings()


def settings_of(config: dict) -> dict:
    """The keyword arguments of :func:`configured` from a validated workflow config."""
    return {"lock_file": (config.get("downloads") or {}).get("lock_file"),
            "mirrors": config.get("mirrors") or {}}


@contextmanager
def configured(lock_file: str | os.PathLike | None = None,
               mirrors: dict[str, str] | None = None) -> Iterator[DownloadSettings]:
    """Use ``lock_file`` (None: no lock) and ``mirrors`` for every fetch inside the block.

    A module-wide setting rather than a context variable: :func:`fetch_files` downloads in a
    thread pool, whose threads would not see a context variable of the caller.
    """
    global _SETTINGS
    previous = _SETTINGS
    check_mirrors(mirrors or {})
    _SETTINGS = DownloadSettings(Path(lock_file) if lock_file else None, dict(mirrors or {}))
    try:
        yield _SETTINGS
    finally:
        _SETTINGS = previous


def check_mirrors(mirrors: dict[str, str]) -> None:
    """Refuse a prefix or replacement that is not an http(s) URL, or a prefix ending in '/'."""
    for prefix, replacement in mirrors.items():
        if not is_url(prefix) or prefix.endswith("/"):
            raise DownloadError(f"mirrors: the prefix {prefix!r} must be an http(s) URL without a "
                                "trailing '/', e.g. 'https://huggingface.co'")
        if not is_url(str(replacement)):
            raise DownloadError(f"mirrors: the replacement of {prefix!r} must be an http(s) URL, "
                                f"not {replacement!r}")


def mirror_url(url: str, mirrors: dict[str, str] | None = None) -> str:
    """``url`` with its longest matching mirror prefix replaced (``mirrors``, default the
    configured ones); unchanged when none matches.

    A prefix matches the whole URL or a part of it ending at '/', '?' or '#', so
    ``https://huggingface.co`` matches ``https://huggingface.co/datasets/...`` but not
    ``https://huggingface.com``. A trailing '/' of the replacement is ignored.
    """
    mirrors = _SETTINGS.mirrors if mirrors is None else mirrors
    best = None
    for prefix in mirrors:
        rest = url[len(prefix):]
        if url.startswith(prefix) and (not rest or rest[0] in "/?#"):
            if best is None or len(prefix) > len(best):
                best = prefix
    if best is None:
        return url
    return str(mirrors[best]).rstrip("/") + url[len(best):]


_LOCK_VERSION = 1
_THREAD_LOCK = threading.Lock()


@contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    """Hold the data lock exclusively: a thread lock, then ``flock`` on ``<lock_file>.flock``.

    The sidecar is never replaced, so every job locks the same inode (the lock file itself is
    swapped atomically by :func:`_write_lock` and cannot carry the lock). The thread lock covers
    file systems where ``flock`` is per process (NFS emulates it with POSIX record locks).
    """
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with _THREAD_LOCK, open(lock_file.with_name(lock_file.name + ".flock"), "a") as sidecar:
        fcntl.flock(sidecar, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(sidecar, fcntl.LOCK_UN)


def read_lock(lock_file: str | os.PathLike) -> dict[str, dict]:
    """The entries of a data lock, URL -> {"size", "sha256"}; {} when the file does not exist."""
    path = Path(lock_file)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = data["files"]
        if not isinstance(files, dict):
            raise TypeError("files is not an object")
    except (ValueError, KeyError, TypeError) as error:
        raise DownloadError(f"the data lock {path} is not a lock file ({error}): restore it from "
                            "version control, or delete it to record the data afresh") from None
    return files


def _write_lock(lock_file: Path, files: dict[str, dict]) -> None:
    """Write the lock atomically (a temporary file in the same folder, then ``os.replace``)."""
    payload = {
        "comment": "sha256 of every downloaded file, keyed by its URL as configured "
                   "(config/README.md, 'downloads'). Delete an entry to accept new data.",
        "version": _LOCK_VERSION,
        "files": dict(sorted(files.items())),
    }
    handle, temporary = tempfile.mkstemp(dir=lock_file.parent, prefix=f".{lock_file.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(payload, out, indent=2, sort_keys=False)
        out.write("\n")
    os.replace(temporary, lock_file)


def check_data_lock(url: str, path: str | os.PathLike, *, lock_file: str | os.PathLike | None = None,
                    digest: str | None = None) -> str | None:
    """Record ``path`` under ``url`` in the data lock, or check it against the recorded digest.

    ``lock_file`` defaults to the configured one; without one nothing is recorded (None is
    returned). Raises :class:`DataLockError` when the lock holds another digest for ``url``.
    Returns the file's sha256.
    """
    lock = Path(lock_file) if lock_file else _SETTINGS.lock_file
    if lock is None:
        return None
    digest = digest or sha256_file(path)
    size = Path(path).stat().st_size
    with _exclusive(lock):
        files = read_lock(lock)
        known = files.get(url)
        if known is None:
            files[url] = {"size": size, "sha256": digest}
            _write_lock(lock, files)
            return digest
    if str(known.get("sha256", "")).lower() != digest:
        raise DataLockError(
            f"{url} does not match the data lock {lock}: recorded sha256 {known.get('sha256')} "
            f"({known.get('size')} bytes), downloaded sha256 {digest} ({size} bytes). The source "
            "changed under the same URL (a moving branch, a re-uploaded file or a mirror serving "
            f"other data). To accept the new data, delete the entry for this URL from {lock}; to "
            "keep the recorded data, pin the source to a commit or revision (config/README.md, "
            "'downloads')."
        )
    return digest


_PINNED = (
    re.compile(r"^https://raw\.githubusercontent\.com/[^/]+/[^/]+/(?P<rev>[^/]+)"),
    re.compile(r"^https://huggingface\.co/(?:datasets/|spaces/)?[^/]+/[^/]+/resolve/(?P<rev>[^/]+)"),
)
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def source_revision(url: str | None) -> str:
    """What a source URL is pinned to: its 40-hex commit/revision, ``unpinned (<ref>)`` for a
    branch or tag, a Google Drive file id, or what a demo or local source is."""
    if not url or url == "demo":
        return "demo (written by the workflow)"
    if not is_url(url):
        return "local copy (not downloaded)"
    for pattern in _PINNED:
        match = pattern.match(url)
        if match:
            rev = match["rev"]
            return rev if _COMMIT.match(rev) else f"unpinned ({rev})"
    drive = google_drive_id(url)
    if drive:
        return f"Google Drive file {drive} (no revision: the data lock holds its digest)"
    return "unpinned (not a GitHub or Hugging Face URL)"


def source_pins(config: dict) -> dict[str, dict[str, str]]:
    """Every data source of a config with its pin: ``benchmarks.<name>`` and
    ``training_sets.<name>`` (``source``, and ``images_url`` where given)."""
    pins: dict[str, dict[str, str]] = {}
    for section in ("benchmarks", "training_sets"):
        for name, entry in (config.get(section) or {}).items():
            if entry.get("format") == "tis_assembly":
                continue  # built by the workflow: no source
            urls = {"source": entry.get("source"),
                    "images_url": (entry.get("options") or {}).get("images_url")}
            for key, url in urls.items():
                if url and (key == "source" or is_url(str(url))):
                    pins[f"{section}.{name}.{key}"] = {"url": str(url),
                                                       "revision": source_revision(str(url))}
    return pins


def lock_summary(lock_file: str | os.PathLike | None) -> dict[str, str | int]:
    """The data lock for the report: its path, sha256 and number of files (or that none exists)."""
    if not lock_file:
        return {"path": "none configured"}
    path = Path(lock_file)
    if not path.is_file():
        return {"path": str(path), "sha256": "none (no file was downloaded)"}
    return {"path": str(path), "sha256": sha256_file(path), "files": len(read_lock(path))}


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------
def is_url(source: str | os.PathLike) -> bool:
    """True for ``http://`` and ``https://`` sources; everything else is treated as a local path."""
    return str(source).startswith(("http://", "https://"))


def join_url(base: str, relative: str) -> str:
    """Join a URL base and a relative file path, percent-encoding each path segment."""
    segments = [quote(part) for part in relative.replace(os.sep, "/").split("/") if part]
    return base.rstrip("/") + "/" + "/".join(segments)


def hf_dataset_url(repo_id: str, revision: str = "main") -> str:
    """The ``resolve`` root of a Hugging Face dataset; join file paths to it with :func:`join_url`."""
    return f"https://huggingface.co/datasets/{repo_id}/resolve/{revision}"


def auth_headers(url: str) -> dict[str, str]:
    """Headers for ``url``: a bearer token from ``HF_TOKEN`` for huggingface.co (gated sets)."""
    token = os.environ.get("HF_TOKEN", "").strip()
    host = urlparse(url).hostname or ""
    if token and (host == "huggingface.co" or host.endswith(".huggingface.co")):
        return {"Authorization": f"Bearer {token}"}
    return {}


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def _verify_and_publish(part: Path, dest: Path, sha256: str | None, origin: str,
                        lock_key: str | None = None) -> Path:
    """Check the digest of ``part`` (if asked) and against the data lock (``lock_key``: the URL
    it is recorded under), then atomically rename it to ``dest``."""
    actual = sha256_file(part) if sha256 or (lock_key and _SETTINGS.lock_file) else None
    if sha256 and actual.lower() != sha256.lower():
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"sha256 mismatch for {origin}: expected {sha256.lower()}, got {actual}. "
            f"The partial file was deleted and {dest} was not written; check that the source "
            "still serves the expected release (or update the checksum in the config)."
        )
    if lock_key:
        try:
            check_data_lock(lock_key, part, digest=actual)
        except DataLockError as error:
            part.unlink(missing_ok=True)
            raise DataLockError(f"{error} The download was discarded: {dest} was not written.") from None
    os.replace(part, dest)
    return dest


# --------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------
def _http_error_hint(status: int, url: str) -> str:
    if status == 404:
        return "the file does not exist there: check the source URL base and the file name"
    if status in (401, 403):
        if "huggingface.co" in url:
            return ("access denied: accept the dataset's terms on huggingface.co and export "
                    "HF_TOKEN=<your token>, or point `source` at a local copy")
        return "access denied: the server needs credentials, or point `source` at a local copy"
    return "unexpected HTTP status"


def _parse_total_from_content_range(value: str | None) -> int | None:
    """``bytes 0-99/1234`` -> 1234; ``bytes */1234`` -> 1234; None when unknown."""
    if not value or "/" not in value:
        return None
    total = value.rsplit("/", 1)[1].strip()
    return int(total) if total.isdigit() else None


def _attempt_download(url: str, part: Path, timeout: float, headers: dict[str, str],
                      session: requests.Session, reject_html: bool = False) -> None:
    """One GET that appends to (or restarts) ``part``; raises _RetryableError on transient failure.

    ``url`` is the address requested (mirrors already applied); ``headers`` carry the
    credentials of the configured URL.
    """
    have = part.stat().st_size if part.exists() else 0
    request_headers = {"User-Agent": USER_AGENT, **auth_headers(url), **headers}
    if have:
        request_headers["Range"] = f"bytes={have}-"
    try:
        response = session.get(url, headers=request_headers, stream=True, timeout=timeout,
                               allow_redirects=True)
    except (requests.ConnectionError, requests.Timeout) as error:
        raise _RetryableError(f"connection failed: {error}") from error

    with response:
        status = response.status_code
        if status == 416 and have:
            # Range past the end: the .part is complete if the server's total equals it.
            total = _parse_total_from_content_range(response.headers.get("Content-Range"))
            if total == have:
                return
            part.unlink(missing_ok=True)
            raise _RetryableError("stale partial file (range not satisfiable); restarting")
        if status in RETRYABLE_STATUS:
            raise _RetryableError(f"HTTP {status}")
        if status == 404:
            raise NotFoundError(f"GET {url} failed with HTTP 404: {_http_error_hint(status, url)}")
        if status not in (200, 206):
            raise DownloadError(f"GET {url} failed with HTTP {status}: {_http_error_hint(status, url)}")

        if reject_html and response.headers.get("Content-Type", "").startswith("text/html"):
            raise DownloadError(
                f"GET {url} answered with a web page instead of the file: {GOOGLE_DRIVE_HINT}"
            )
        resuming = status == 206 and have > 0
        expected = response.headers.get("Content-Length")
        expected_bytes = int(expected) if expected and expected.isdigit() else None
        received = 0
        try:
            with open(part, "ab" if resuming else "wb") as handle:
                for chunk in response.iter_content(CHUNK_SIZE):
                    if chunk:
                        handle.write(chunk)
                        received += len(chunk)
        except (requests.ConnectionError, requests.Timeout,
                requests.exceptions.ChunkedEncodingError) as error:
            raise _RetryableError(f"connection dropped after {received} bytes: {error}") from error
        if expected_bytes is not None and received < expected_bytes:
            raise _RetryableError(f"body truncated: {received} of {expected_bytes} bytes")


def http_download(url: str, dest: str | os.PathLike, *, sha256: str | None = None,
                  retries: int = 5, backoff: float = 1.0, timeout: float = 60.0,
                  headers: dict[str, str] | None = None,
                  session: requests.Session | None = None, reject_html: bool = False,
                  lock_key: str | None = None) -> Path:
    """Download ``url`` to ``dest`` through a resumable ``dest.part``; return ``dest``.

    ``retries`` extra attempts follow the first, sleeping ``backoff * 2**attempt`` seconds between
    them. Permanent failures (404, 401/403, other 4xx) raise :class:`DownloadError` at once.
    ``reject_html``: an HTML answer is an error page, not the file (Google Drive).
    The request goes to :func:`mirror_url` of ``url`` (with the credentials ``url`` itself would
    get, so a mirror of huggingface.co receives ``HF_TOKEN``); the file is checked against the
    data lock under ``lock_key`` (default ``url``, the address as configured).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = _part_path(dest)
    target = mirror_url(url)
    headers = {**auth_headers(url), **(headers or {})}
    own_session = session is None
    session = session or requests.Session()
    last_error = "no attempt made"
    try:
        for attempt in range(retries + 1):
            try:
                _attempt_download(target, part, timeout, headers, session, reject_html)
                return _verify_and_publish(part, dest, sha256, url, lock_key or url)
            except _RetryableError as error:
                last_error = str(error)
                if attempt < retries:
                    time.sleep(backoff * (2 ** attempt))
    finally:
        if own_session:
            session.close()
    shown = url if target == url else f"{target} (mirror of {url})"
    raise DownloadError(
        f"GET {shown} failed after {retries + 1} attempts (last error: {last_error}). "
        f"The partial download is kept in {part} and resumes on the next run; check the network "
        "or point `source` at a local copy of the release."
    )


# --------------------------------------------------------------------------------------------
# Google Drive
# --------------------------------------------------------------------------------------------
# Drive's download endpoint (share links name the file id; this host serves the bytes).
GOOGLE_DRIVE_DOWNLOAD = "https://drive.usercontent.google.com/download"
GOOGLE_DRIVE_HINT = (
    "Google Drive refused the download (its daily quota for this file is used up, or the file is "
    "not shared publicly). Try again later, or download the archive in a browser and set the "
    "option to its local path."
)


def google_drive_id(url: str) -> str | None:
    """The file id of a Google Drive link (``/file/d/<id>/...``, ``open?id=``, ``uc?id=``,
    ``drive.usercontent.google.com/download?id=``), or None for any other URL."""
    parsed = urlparse(str(url))
    if parsed.hostname not in ("drive.google.com", "docs.google.com", "drive.usercontent.google.com"):
        return None
    parts = [p for p in parsed.path.split("/") if p]
    if "d" in parts and parts.index("d") + 1 < len(parts):
        return parts[parts.index("d") + 1]
    ids = parse_qs(parsed.query).get("id")
    return ids[0] if ids else None


class _DownloadForm(HTMLParser):
    """The form of Drive's interstitial page: its action and hidden inputs (id, confirm, uuid)."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):  # name fixed by HTMLParser
        attrs = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = attrs.get("action")
        elif tag == "input" and attrs.get("type") == "hidden" and attrs.get("name"):
            self.fields[attrs["name"]] = attrs.get("value") or ""


def resolve_google_drive(file_id: str, *, session: requests.Session | None = None,
                         timeout: float = 60.0, endpoint: str | None = None) -> str:
    """The URL that serves the file's bytes.

    Small files come straight from the download endpoint. For large ones Drive first answers
    with an HTML page ("can't scan this file for viruses") whose form carries a ``confirm``
    token (and a ``uuid``); submitting it, as a browser does, gives the file. A page without
    that form means the quota is used up or the file is private.
    """
    url = f"{endpoint or GOOGLE_DRIVE_DOWNLOAD}?{urlencode({'id': file_id, 'export': 'download'})}"
    target = mirror_url(url)  # the returned URL is unmirrored: http_download mirrors it once
    own_session = session is None
    session = session or requests.Session()
    try:
        response = session.get(target, headers={"User-Agent": USER_AGENT}, stream=True, timeout=timeout)
        with response:
            if response.status_code == 404:
                raise NotFoundError(f"Google Drive has no file {file_id!r}: check the link")
            if response.status_code != 200:
                raise DownloadError(f"GET {target} failed with HTTP {response.status_code}: {GOOGLE_DRIVE_HINT}")
            if not response.headers.get("Content-Type", "").startswith("text/html"):
                return url  # the file itself; http_download fetches it again, resumably
            page = response.raw.read(1 << 20, decode_content=True).decode("utf-8", "replace")
    except (requests.ConnectionError, requests.Timeout) as error:
        raise DownloadError(f"GET {target} failed: {error}; check the network") from error
    finally:
        if own_session:
            session.close()
    form = _DownloadForm()
    form.feed(page)
    if not form.action or "confirm" not in form.fields:
        raise DownloadError(f"Google Drive file {file_id!r}: {GOOGLE_DRIVE_HINT}")
    return f"{urljoin(url, form.action)}?{urlencode(form.fields)}"


# --------------------------------------------------------------------------------------------
# local sources
# --------------------------------------------------------------------------------------------
def copy_local(src: str | os.PathLike, dest: str | os.PathLike, *, link: bool = False,
               sha256: str | None = None) -> Path:
    """Copy (or symlink, ``link=True``) one file of a local mirror into the release directory."""
    src, dest = Path(src), Path(dest)
    if not src.is_file():
        raise NotFoundError(
            f"{src} does not exist: the local source must be laid out like the upstream release "
            f"(expected this file relative to the source directory), or use the default URL source"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    if link:
        if sha256 and sha256_file(src).lower() != sha256.lower():
            raise DownloadError(f"sha256 mismatch for {src}: expected {sha256.lower()}")
        if dest.is_symlink() or dest.exists():
            dest.unlink()
        dest.symlink_to(src.resolve())
        return dest
    part = _part_path(dest)
    shutil.copyfile(src, part)
    return _verify_and_publish(part, dest, sha256, str(src))


def copy_tree(src_dir: str | os.PathLike, dest_dir: str | os.PathLike, *,
              link: bool = False) -> list[Path]:
    """Copy every file below ``src_dir`` to the same relative path below ``dest_dir``."""
    src_dir, dest_dir = Path(src_dir), Path(dest_dir)
    if not src_dir.is_dir():
        raise DownloadError(f"{src_dir} is not a directory: the local source must contain it "
                            "(laid out like the upstream release)")
    written = []
    for path in sorted(p for p in src_dir.rglob("*") if p.is_file()):
        written.append(copy_local(path, dest_dir / path.relative_to(src_dir), link=link))
    return written


# --------------------------------------------------------------------------------------------
# one entry point for both kinds of source
# --------------------------------------------------------------------------------------------
def fetch_file(source: str | os.PathLike, relative: str, dest_root: str | os.PathLike, *,
               sha256: str | None = None, link: bool = False, overwrite: bool = False,
               target: str | None = None, **http_options) -> Path:
    """Put ``source/relative`` at ``dest_root/(target or relative)``; skip files already there.

    ``source`` is an http(s) URL base or a local directory. ``http_options`` go to
    :func:`http_download` (retries, backoff, timeout, headers, session).
    """
    dest = Path(dest_root) / (target or relative)
    if dest.exists() and not overwrite:
        if sha256 is None or sha256_file(dest).lower() == sha256.lower():
            return dest
    if is_url(source):
        return http_download(join_url(str(source), relative), dest, sha256=sha256, **http_options)
    return copy_local(Path(source) / relative, dest, link=link, sha256=sha256)


def fetch_files(source: str | os.PathLike, relatives: Iterable[str], dest_root: str | os.PathLike,
                *, workers: int = 8, link: bool = False, **http_options) -> list[Path]:
    """:func:`fetch_file` for many files, in a thread pool for URL sources; all errors reported."""
    relatives = list(dict.fromkeys(relatives))  # unique, order kept
    if not is_url(source) or workers <= 1:
        return [fetch_file(source, rel, dest_root, link=link, **http_options) for rel in relatives]
    session = http_options.pop("session", None) or requests.Session()
    errors: list[DownloadError] = []

    def one(rel: str) -> Path | None:
        try:
            return fetch_file(source, rel, dest_root, session=session, **http_options)
        except DownloadError as error:
            errors.append(error)
            return None

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(one, relatives))
    session.close()
    if errors:
        # data-lock mismatches first: they need a decision, not another try
        errors.sort(key=lambda error: not isinstance(error, DataLockError))
        shown = "\n  ".join(map(str, errors[:5]))
        kind = DataLockError if isinstance(errors[0], DataLockError) else DownloadError
        raise kind(f"{len(errors)} of {len(relatives)} files failed to download:\n  {shown}")
    return [path for path in results if path is not None]


# --------------------------------------------------------------------------------------------
# archives
# --------------------------------------------------------------------------------------------
def _safe_members(archive: zipfile.ZipFile, zip_path: Path) -> list[zipfile.ZipInfo]:
    """Members of the zip, refusing absolute paths and ``..`` (zip-slip)."""
    members = []
    for info in archive.infolist():
        name = info.filename
        if name.startswith(("/", "\\")) or ".." in Path(name).parts:
            raise DownloadError(f"{zip_path} contains an unsafe member path {name!r}; refusing to extract")
        if "__MACOSX" in Path(name).parts:
            continue
        members.append(info)
    return members


def extract_zip(zip_path: str | os.PathLike, dest_dir: str | os.PathLike,
                marker: str | None = None) -> Path:
    """Extract ``zip_path`` into ``dest_dir``; return ``dest_dir``.

    With ``marker`` (a relative path that must exist in the release, e.g.
    ``"01-Illegal_Activitiy/SD/0.jpg"``), the folder of the archive that contains ``marker`` is
    located, wherever the archive nests it, and its contents are moved into ``dest_dir`` — so
    archives with or without a top-level folder give the same layout.
    """
    zip_path, dest_dir = Path(zip_path), Path(dest_dir)
    if not zipfile.is_zipfile(zip_path):
        raise DownloadError(f"{zip_path} is not a zip archive (a failed or HTML download?): delete "
                            "it and fetch again, or download the archive by hand")
    dest_dir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path) as archive, \
            tempfile.TemporaryDirectory(dir=dest_dir, prefix=".extract-") as scratch:
        archive.extractall(scratch, members=_safe_members(archive, zip_path))
        root = Path(scratch)
        if marker:
            found = sorted(root.rglob(Path(marker).name))
            roots = [p for p in (_root_of(f, marker) for f in found) if p is not None]
            if not roots:
                raise DownloadError(f"{zip_path} does not contain {marker!r} in any folder: "
                                    "is it the right archive for this benchmark?")
            root = min(roots, key=lambda p: len(p.parts))
        for item in sorted(root.iterdir()):
            target = dest_dir / item.name
            if target.is_dir() and item.is_dir():
                shutil.copytree(item, target, dirs_exist_ok=True)
            else:
                if target.exists():
                    shutil.rmtree(target) if target.is_dir() else target.unlink()
                shutil.move(str(item), target)
    return dest_dir


def _root_of(found: Path, marker: str) -> Path | None:
    """The folder F with F / marker == found, or None when found's path does not end in marker."""
    depth = len(Path(marker).parts)
    if found.parts[-depth:] != Path(marker).parts:
        return None
    return found.parents[depth - 1]


def fetch_zip(url_or_path: str, dest_dir: str | os.PathLike, *, marker: str | None = None,
              sha256: str | None = None, keep_archive: bool = False, **http_options) -> Path:
    """Download (or take a local) zip and extract it into ``dest_dir`` with :func:`extract_zip`.

    ``url_or_path``: an http(s) URL, a Google Drive share link, or a local file.
    """
    dest_dir = Path(dest_dir)
    drive_id = google_drive_id(url_or_path) if is_url(url_or_path) else None
    if drive_id:
        archive = dest_dir / f"{drive_id}.zip"
        if not archive.exists():
            url = resolve_google_drive(drive_id, session=http_options.get("session"),
                                       timeout=http_options.get("timeout", 60.0))
            http_download(url, archive, sha256=sha256, reject_html=True, lock_key=url_or_path,
                          **http_options)
    elif is_url(url_or_path):
        archive = dest_dir / (Path(urlparse(url_or_path).path).name or "archive.zip")
        if not archive.exists():
            http_download(url_or_path, archive, sha256=sha256, **http_options)
    else:
        archive = Path(url_or_path)
        if not archive.is_file():
            raise DownloadError(f"archive {archive} does not exist: download it by hand and pass its path")
    extract_zip(archive, dest_dir, marker=marker)
    if is_url(url_or_path) and not keep_archive:
        archive.unlink(missing_ok=True)
    return dest_dir
