"""A Hugging Face hub stand-in of our own, on 127.0.0.1: model (and dataset) repositories served
from folders, over the endpoints huggingface_hub really calls.

Layout of ``root`` (each revision folder holds the repository's files as they are)::

    root/<org>/<name>/<revision>/...             model repositories
    root/datasets/<org>/<name>/<revision>/...    dataset repositories
    root/[datasets/]<org>/<name>/refs/<branch>   optional: a branch -> commit (one line)

A revision folder is named by its 40-hex commit, or by a branch (``main``). A branch resolves to
its ``refs`` file, else to the folder of that name, else to the only commit folder there is.

Endpoints (``{kind}`` is ``models`` or ``datasets``; dataset files live under ``/datasets/``):

* ``GET /api/{kind}/{repo}`` and ``/api/{kind}/{repo}/revision/{rev}`` — repository info: ``id``,
  ``sha`` (the commit), ``siblings``, ``gated`` (what ``HfApi.model_info``/``repo_info`` read);
* ``GET /api/{kind}/{repo}/tree/{rev}[/{path}]?recursive=`` — files and folders with ``oid``
  (git blob sha1), ``size`` and, for LFS files, ``lfs: {oid: sha256, size, pointerSize}``
  (``list_repo_tree``, which ``snapshot_download`` lists a pinned commit with);
* ``HEAD``/``GET /[datasets/]{repo}/resolve/{rev}/{path}`` — the file, with ``ETag`` (sha256 for LFS
  files, the blob sha1 otherwise), ``X-Repo-Commit``, ``Content-Length``, ``Accept-Ranges`` and
  ``X-Linked-Etag``/``X-Linked-Size`` for LFS files; ``Range: bytes=a-[b]`` answers 206.

Errors as the hub sends them (huggingface_hub maps them by ``X-Error-Code``): an unknown repository
404 ``RepoNotFound``; an unknown revision 404 ``RevisionNotFound``; an unknown file 404
``EntryNotFound``. Gated repositories (``gated``) list their files to anyone, but their files need
``Authorization: Bearer <token>`` with an accepted token: no token is 401 ``GatedRepo`` ("You must
have access to it and be authenticated"), another token 403 ``GatedRepo`` ("not in the authorized
list"), which huggingface_hub raises as ``GatedRepoError``.

Faults for tests: ``drop_once[path] = n`` makes the next GET of that file send ``n`` bytes of the
announced body and close the connection (huggingface_hub then resumes with a Range request);
``drop_always[path] = n`` does so on every GET until removed (a transfer that cannot finish).
``requests`` records every request as ``(method, path, range header, authorization header)``.

Run it by hand (the rehearsal does the same)::

    python -m tests.servers.hub_server --root DIR --port 18901 --gated meta-llama/Llama-3.2-11B-Vision-Instruct \
        --token hf_rehearsal_token          # then HF_ENDPOINT=http://127.0.0.1:18901
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

COMMIT = re.compile(r"^[0-9a-f]{40}$")
#: suffixes the hub's default .gitattributes stores in LFS (files of 10 MiB and more are LFS too)
LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".onnx", ".gguf", ".model",
                ".npy", ".npz", ".pkl", ".pickle", ".parquet", ".arrow", ".zip", ".tar", ".gz", ".tgz", ".xz",
                ".zst", ".7z", ".jpg", ".jpeg", ".png", ".webp", ".mp4")
LFS_MIN_SIZE = 10 * 1024 * 1024
LFS_POINTER_SIZE = 134
CHUNK = 1 << 16
_API = re.compile(r"^/api/(models|datasets)/([^/]+/[^/]+)(?:/(revision|tree)/([^/]+)(?:/(.*))?)?$")
_RESOLVE = re.compile(r"^/(datasets/)?([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")


def git_blob_oid(data: bytes) -> str:
    """The git blob id of ``data`` (what the hub lists as a file's ``oid``)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class HubError(Exception):
    """An error answer: HTTP status, the hub's X-Error-Code and message, extra headers."""

    def __init__(self, status: int, code: str | None, message: str, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


class HubServer(ThreadingHTTPServer):
    """The stand-in and what it saw. Use as a context manager; ``endpoint`` is its URL."""

    daemon_threads = True

    def __init__(self, root: str | Path, *, port: int = 0, gated: Iterable[str] = (),
                 token: str | Iterable[str] | None = None) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.root = Path(root)
        self.gated = set(gated)
        self.tokens = {token} if isinstance(token, str) else set(token or ())
        self.drop_once: dict[str, int] = {}
        self.drop_always: dict[str, int] = {}
        self.requests: list[tuple[str, str, str | None, str | None]] = []
        self.lock = threading.Lock()
        self._digests: dict[tuple[str, int, int], tuple[str, str]] = {}
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> HubServer:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()

    # --------------------------------------------------------------------------- repositories
    def repo_dir(self, kind: str, repo: str) -> Path:
        """The folder of ``repo``; 404 RepoNotFound if there is none."""
        base = self.root / "datasets" if kind == "datasets" else self.root
        path = base / repo
        if ".." in repo.split("/") or not path.is_dir() or (kind == "models" and repo.split("/")[0] == "datasets"):
            noun = "Dataset" if kind == "datasets" else "Repository"
            raise HubError(404, "RepoNotFound", f"{noun} not found")
        return path

    def resolve(self, kind: str, repo: str, revision: str) -> tuple[str, Path]:
        """(commit, folder) of ``revision``; 404 RevisionNotFound when it names nothing."""
        repo_dir = self.repo_dir(kind, repo)
        ref = repo_dir / "refs" / revision
        if ref.is_file():
            commit = ref.read_text().strip()
            if (repo_dir / commit).is_dir():
                return commit, repo_dir / commit
        if revision != "refs" and (repo_dir / revision).is_dir():
            commit = revision if COMMIT.match(revision) else hashlib.sha1(f"{repo}@{revision}".encode()).hexdigest()
            return commit, repo_dir / revision
        commits = [p for p in repo_dir.iterdir() if p.is_dir() and COMMIT.match(p.name)]
        if revision == "main" and len(commits) == 1:
            return commits[0].name, commits[0]
        raise HubError(404, "RevisionNotFound", f"Invalid rev id: {revision}")

    @staticmethod
    def files(folder: Path) -> list[str]:
        """Repository paths of every file of a revision folder (huggingface_hub's metadata excluded)."""
        return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                      if p.is_file() and ".cache" not in p.relative_to(folder).parts)

    def digests(self, path: Path) -> tuple[str, str]:
        """(git blob sha1, sha256) of a file, cached by size and modification time."""
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        with self.lock:
            if key in self._digests:
                return self._digests[key]
        data = path.read_bytes()
        value = (git_blob_oid(data), hashlib.sha256(data).hexdigest())
        with self.lock:
            self._digests[key] = value
        return value

    @staticmethod
    def is_lfs(path: Path) -> bool:
        return path.suffix.lower() in LFS_SUFFIXES or path.stat().st_size >= LFS_MIN_SIZE

    def entry(self, folder: Path, name: str) -> dict:
        """A ``tree`` listing entry of a file."""
        path = folder / name
        oid, sha256 = self.digests(path)
        entry = {"type": "file", "oid": oid, "size": path.stat().st_size, "path": name}
        if self.is_lfs(path):
            entry["lfs"] = {"oid": sha256, "size": path.stat().st_size, "pointerSize": LFS_POINTER_SIZE}
        return entry

    def check_access(self, kind: str, repo: str, authorization: str | None) -> None:
        """401/403 GatedRepo for a gated repository's files without an accepted token."""
        if repo not in self.gated:
            return
        noun = "dataset" if kind == "datasets" else "model"
        token = (authorization or "").removeprefix("Bearer ").strip()
        if not token:
            raise HubError(401, "GatedRepo", f"Access to {noun} {repo} is restricted. You must have access to it "
                                             "and be authenticated to access it. Please log in.")
        if token not in self.tokens:
            raise HubError(403, "GatedRepo", f"Access to {noun} {repo} is restricted and you are not in the "
                                             f"authorized list. Visit https://huggingface.co/{repo} to ask for access.")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HubServer

    def log_message(self, *args):  # quiet
        pass

    # ---------------------------------------------------------------------------------- plumbing
    def _record(self) -> None:
        with self.server.lock:
            self.server.requests.append((self.command, unquote(urlsplit(self.path).path),
                                         self.headers.get("Range"), self.headers.get("Authorization")))

    def _json(self, status: int, payload, headers: dict | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, error: HubError) -> None:
        headers = {"X-Error-Message": error.message, **error.headers}
        if error.code:
            headers["X-Error-Code"] = error.code
        self._json(error.status, {"error": error.message}, headers)

    def do_GET(self):  # names fixed by http.server
        self._dispatch()

    def do_HEAD(self):
        self._dispatch()

    def _dispatch(self) -> None:
        self._record()
        url = urlsplit(self.path)
        path = unquote(url.path)
        try:
            api = _API.match(path)
            if api and self.command == "GET":
                return self._api(api, parse_qs(url.query))
            resolve = _RESOLVE.match(path)
            if resolve:
                return self._resolve(resolve)
            raise HubError(404, None, f"no such endpoint: {self.command} {path}")
        except HubError as error:
            self._error(error)

    # ---------------------------------------------------------------------------------- endpoints
    def _api(self, match: re.Match, query: dict) -> None:
        server = self.server
        kind, repo, what, revision, sub = match.groups()
        commit, folder = server.resolve(kind, repo, revision or "main")
        names = server.files(folder)
        if what == "tree":
            sub = (sub or "").strip("/")
            recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
            inside = [n for n in names if not sub or n.startswith(sub + "/")]
            if sub and not inside:
                raise HubError(404, "EntryNotFound", f"{sub} does not exist on {revision}", {"X-Repo-Commit": commit})
            rel = [n[len(sub) + 1:] if sub else n for n in inside]
            entries, folders = [], set()
            for full, name in zip(inside, rel):
                parts = name.split("/")
                for depth in range(1, len(parts)):
                    folders.add("/".join(parts[:depth]))
                if recursive or len(parts) == 1:
                    entries.append(server.entry(folder, full))
            prefix = f"{sub}/" if sub else ""
            for name in sorted(folders):
                if recursive or "/" not in name:
                    oid = hashlib.sha1(f"{commit}:{prefix}{name}".encode()).hexdigest()
                    entries.append({"type": "directory", "oid": oid, "size": 0, "path": prefix + name})
            return self._json(200, sorted(entries, key=lambda e: e["path"]))
        info = {
            "_id": hashlib.sha1(repo.encode()).hexdigest()[:24], "id": repo, "sha": commit, "private": False,
            "gated": "manual" if repo in server.gated else False, "disabled": False, "downloads": 0, "likes": 0,
            "tags": [], "lastModified": "2025-01-01T00:00:00.000Z",
            "siblings": [{"rfilename": name} for name in names],
        }
        if kind == "models":
            info["modelId"] = repo
        return self._json(200, info)

    def _resolve(self, match: re.Match) -> None:
        server = self.server
        kind = "datasets" if match.group(1) else "models"
        repo, revision, name = match.group(2), match.group(3), match.group(4)
        commit, folder = server.resolve(kind, repo, revision)
        path = folder / name
        if ".." in name.split("/") or not path.is_file() or name not in server.files(folder):
            raise HubError(404, "EntryNotFound", f"{name} does not exist on {revision}", {"X-Repo-Commit": commit})
        server.check_access(kind, repo, self.headers.get("Authorization"))
        oid, sha256 = server.digests(path)
        size = path.stat().st_size
        lfs = server.is_lfs(path)
        etag = f'"{sha256 if lfs else oid}"'
        headers = {"ETag": etag, "X-Repo-Commit": commit, "Accept-Ranges": "bytes",
                   "Content-Type": "application/octet-stream"}
        if lfs:
            headers.update({"X-Linked-Etag": etag, "X-Linked-Size": str(size)})
        start, end, status = 0, size - 1, 200
        wanted = self.headers.get("Range")
        if wanted:
            found = re.match(r"^bytes=(\d+)-(\d*)$", wanted.strip())
            if not found or int(found.group(1)) >= size > 0:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            start = int(found.group(1))
            end = min(int(found.group(2)), size - 1) if found.group(2) else size - 1
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        length = end - start + 1 if size else 0
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if self.command == "HEAD":
            return None
        with server.lock:
            drop = server.drop_once.pop(name, server.drop_always.get(name)) if self.command == "GET" else None
        with open(path, "rb") as handle:
            handle.seek(start)
            left = length if drop is None else min(drop, length)
            while left > 0:
                chunk = handle.read(min(CHUNK, left))
                if not chunk:
                    break
                self.wfile.write(chunk)
                left -= len(chunk)
        if drop is not None:  # announced more than was sent: cut the connection mid-body
            self.wfile.flush()
            self.close_connection = True
        return None


def add_revision(root: str | Path, repo: str, revision: str, source: str | Path, *, kind: str = "models",
                 branch: str | None = "main") -> Path:
    """Copy the folder ``source`` into ``root`` as ``repo`` at ``revision`` (a test helper);
    ``branch`` (default main) is pointed at it. Returns the revision folder."""
    base = Path(root) / ("datasets" if kind == "datasets" else "")
    target = base / repo / revision
    shutil.copytree(source, target, dirs_exist_ok=True)
    if branch:
        (base / repo / "refs").mkdir(parents=True, exist_ok=True)
        (base / repo / "refs" / branch).write_text(revision + "\n")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, help="folder of <org>/<name>/<revision>/ trees (and datasets/...)")
    parser.add_argument("--port", type=int, default=18901)
    parser.add_argument("--gated", nargs="*", default=[], metavar="ORG/NAME", help="repositories behind a licence")
    parser.add_argument("--token", action="append", default=[], help="a token that may read gated repositories")
    args = parser.parse_args()
    with HubServer(args.root, port=args.port, gated=args.gated, token=args.token) as server:
        print(f"hub stand-in on {server.endpoint} serving {args.root}; gated: {sorted(server.gated)}; "
              f"export HF_ENDPOINT={server.endpoint}; Ctrl-C to stop", flush=True)
        try:
            while True:
                time.sleep(5)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
