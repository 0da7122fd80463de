"""A stand-in for the data hosts of the real study, on 127.0.0.1: raw GitHub, the Hugging Face
hub's ``resolve`` URLs and Google Drive's download endpoint, served from one directory tree.

The tree is laid out as ``<root>/<host>/<path>``, the URL without its scheme::

    root/raw.githubusercontent.com/ThuCCSLab/FigStep/<commit>/data/question/safebench.csv
    root/huggingface.co/datasets/<repo>/resolve/<revision>/<file>
    root/drive.usercontent.google.com/files/<file id>          (the bytes of a shared file)

so that the workflow's ``mirrors`` (config/README.md) map each real host onto the server::

    mirrors:
      https://raw.githubusercontent.com: http://127.0.0.1:PORT/raw.githubusercontent.com
      https://huggingface.co: http://127.0.0.1:PORT/huggingface.co
      https://drive.usercontent.google.com: http://127.0.0.1:PORT/drive.usercontent.google.com

Files are served with ``Range`` support (206, 416). Google Drive is served as it answers for
files too large to scan for viruses: ``/drive.usercontent.google.com/download?id=<id>`` gives an
HTML page whose form points back at the *real* host with ``confirm`` and ``uuid`` tokens; only
a client that rewrites that address through its mirrors gets the bytes.

``populate`` writes every benchmark and training set of a study config in its upstream layout
under its pinned URL path, with the project's own demo writers (``BenchmarkSpec.write_demo``,
``TrainingSetFormat.write_demo``, as the ``write_demo_*`` rules call them); image archives that
ship apart upstream become zips at their ``images_url`` (or the format's default archive), and
the official texts a benchmark asks for (``options.official_texts``) become stand-in files at
their pinned URL paths: the upstream file and variable names with the project's own sentences
(``tests/servers/official_standins.py``), never the official text::

    python tests/servers/data_host.py populate --root /tmp/hosts --config config/paper.yaml
    python tests/servers/data_host.py serve --root /tmp/hosts --port 8800

The content is demo data (drawn images, mild requests), not the real releases: the host
rehearses the transfer, pinning and lock-file path of the study, not its numbers.
"""

from __future__ import annotations

import argparse
import copy
import io
import mimetypes
import shutil
import tempfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from think_in_safety import download, official_texts
from think_in_safety.benchmarks import get_benchmark
from think_in_safety.config import validate_config
from think_in_safety.training_sets import ASSEMBLED, get_format, mis, tis_release, vlguard

from tests.servers import official_standins

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "workflow/schemas/config.schema.yaml"

DRIVE_HOST = "drive.usercontent.google.com"
HOSTS = ("raw.githubusercontent.com", "huggingface.co", DRIVE_HOST)
DRIVE_UUID = "data-host-uuid"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
NOT_UPSTREAM = {"demo_captions.json"}  # written by the demo writers for the offline captioner only


# --------------------------------------------------------------------------------------------
# URL -> file in the tree
# --------------------------------------------------------------------------------------------
def url_path(root: str | Path, url: str) -> Path:
    """Where ``url`` lives below ``root``: ``<host>/<path>``; a Google Drive link (share link or
    download URL) at ``drive.usercontent.google.com/files/<id>``."""
    drive_id = download.google_drive_id(url)
    if drive_id:
        return Path(root) / DRIVE_HOST / "files" / drive_id
    parsed = urlparse(url)
    parts = [part for part in unquote(parsed.path).split("/") if part]
    if not parsed.hostname or ".." in parts:
        raise ValueError(f"cannot place {url!r} in the data host's tree")
    return Path(root, parsed.hostname, *parts)


# --------------------------------------------------------------------------------------------
# the server
# --------------------------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet: requests are kept in server.requests
        pass

    def do_GET(self):  # name fixed by http.server
        self._answer(body=True)

    def do_HEAD(self):  # name fixed by http.server
        self._answer(body=False)

    def _reply(self, status: int, data: bytes, headers: dict[str, str], body: bool) -> None:
        self.send_response(status)
        for key, value in {"Content-Length": str(len(data)), **headers}.items():
            self.send_header(key, value)
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _answer(self, body: bool) -> None:
        server = self.server
        parsed = urlparse(self.path)
        path = unquote(parsed.path)
        with server.lock:
            server.requests.append((self.command, self.path, self.headers.get("Range")))
        if path == f"/{DRIVE_HOST}/download":
            return self._drive(parse_qs(parsed.query), body)
        file = (server.root / path.lstrip("/")).resolve()
        if server.root not in file.parents or not file.is_file():
            return self._reply(404, b"not found on the data host", {"Content-Type": "text/plain"}, body)
        kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        self._send_file(file, kind, body)

    def _send_file(self, file: Path, kind: str, body: bool) -> None:
        data = file.read_bytes()
        spec = self.headers.get("Range", "")
        if not spec.startswith("bytes="):
            return self._reply(200, data, {"Content-Type": kind, "Accept-Ranges": "bytes"}, body)
        first, _, last = spec[len("bytes="):].partition("-")
        start = int(first or 0)
        end = min(int(last), len(data) - 1) if last else len(data) - 1
        if start >= len(data):
            return self._reply(416, b"", {"Content-Range": f"bytes */{len(data)}"}, body)
        self._reply(206, data[start:end + 1], {"Content-Type": kind,
                                                "Content-Range": f"bytes {start}-{end}/{len(data)}"}, body)

    def _drive(self, query: dict[str, list[str]], body: bool) -> None:
        """Drive's answer for a large file: the virus-scan page first, the bytes once confirmed."""
        file_id = query.get("id", [""])[0]
        file = self.server.root / DRIVE_HOST / "files" / file_id
        if not file_id or "/" in file_id or not file.is_file():
            return self._reply(404, b"no such file", {"Content-Type": "text/plain"}, body)
        if query.get("confirm") == ["t"] and query.get("uuid") == [DRIVE_UUID]:
            return self._send_file(file, "application/octet-stream", body)
        fields = {"id": file_id, "export": "download", "confirm": "t", "uuid": DRIVE_UUID}
        inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in fields.items())
        page = ("<html><body><p>Google Drive can't scan this file for viruses.</p>"
                f'<form id="download-form" action="https://{DRIVE_HOST}/download" method="get">'
                f'<input type="submit" value="Download anyway">{inputs}</form></body></html>')
        self._reply(200, page.encode(), {"Content-Type": "text/html; charset=utf-8"}, body)


class DataHost:
    """The server on 127.0.0.1 (``port`` 0: a free one); a context manager that starts and stops it.

    ``requests`` lists (method, path, Range) of every request received.
    """

    def __init__(self, root: str | Path, port: int = 0) -> None:
        self.root = Path(root).resolve()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.root = self.root
        self.httpd.lock = threading.Lock()
        self.httpd.requests = []
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def requests(self) -> list[tuple[str, str, str | None]]:
        return self.httpd.requests

    def mirrors(self) -> dict[str, str]:
        """The ``mirrors`` config that sends every real host to this server."""
        return {f"https://{host}": f"{self.url}/{host}" for host in HOSTS}

    def __enter__(self) -> DataHost:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --------------------------------------------------------------------------------------------
# populate: the study's sources in their upstream layout, from the demo writers
# --------------------------------------------------------------------------------------------
def _zip_tree(folder: Path, archive: Path, prefix: str = "") -> None:
    """Zip every file below ``folder`` at ``prefix/<relative path>`` (upstream zips nest their
    files in a folder; the workflow's extraction finds it by a marker file). Entries carry a
    fixed date, so the same files give the same archive bytes (and the same data-lock digest)."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            name = "/".join(part for part in (prefix, path.relative_to(folder).as_posix()) if part)
            entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            out.writestr(entry, path.read_bytes())


def _publish_tree(release: Path, dest: Path) -> list[Path]:
    """Copy the files of ``release`` below ``dest`` (the source URL's place in the tree)."""
    written = []
    for path in sorted(p for p in release.rglob("*") if p.is_file() and p.name not in NOT_UPSTREAM):
        target = dest / path.relative_to(release)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        written.append(target)
    return written


def _populate_benchmark(root: Path, name: str, entry: dict, seed: int) -> list[Path]:
    spec = get_benchmark(name)
    options = entry.get("options") or {}
    with tempfile.TemporaryDirectory() as scratch:
        release = Path(scratch) / name
        spec.write_demo(release, seed)
        written = []
        if spec.needs_images_url:  # the images are not in the source upstream
            images = release / spec.images_dir
            images_url = str(options.get("images_url") or "")
            images_source = next((str(options[key]) for key in spec.images_url_alternatives
                                  if download.is_url(str(options.get(key) or ""))), None)
            if download.is_url(images_url):
                archive = url_path(root, images_url)
                _zip_tree(images, archive, prefix=f"{name}-images")
                written.append(archive)
            elif images_source:
                written += _publish_tree(images, url_path(root, images_source))
            shutil.rmtree(images)
        texts = official_texts.texts_config(name, options)
        if texts is not None and download.is_url(texts.source):
            written += official_standins.write_standins(name, url_path(root, texts.source), texts.files)
        return written + _publish_tree(release, url_path(root, entry["source"]))


def _default_archive(fmt: str, source: str, options: dict) -> str | None:
    """The URL a format's fetch takes its image archive from (None: its images are inline)."""
    defaults = {
        "vlguard": download.join_url(source, vlguard.IMAGES_ZIP),
        "mis": download.join_url(source, mis.IMAGES_ZIP),
        "tis": tis_release.DEFAULT_IMAGES_URL,
    }
    if fmt not in defaults:
        return None
    return str(options.get("images_url") or defaults[fmt])


def _split_parquet(release: Path, files: list[str]) -> None:
    """Re-write the demo's parquet rows as the listed files (SPA-VL's ``files`` option), split evenly."""
    written = sorted(release.rglob("*.parquet"))
    table = pa.concat_tables([pq.read_table(path) for path in written])
    for path in written:
        path.unlink()
    step = -(-table.num_rows // len(files))
    for index, relative in enumerate(files):
        target = release / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table.slice(index * step, step), target)


def _populate_training_set(root: Path, name: str, entry: dict, seed: int) -> list[Path]:
    fmt, source, options = entry["format"], entry["source"], entry.get("options") or {}
    with tempfile.TemporaryDirectory() as scratch:
        release = Path(scratch) / name
        get_format(fmt).write_demo(release, seed, options)
        written = []
        archive_url = _default_archive(fmt, source, options)
        if archive_url:
            images = Path(scratch) / "images"
            for path in [p for p in release.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES]:
                target = images / path.relative_to(release)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(path), target)
            if download.is_url(archive_url):
                archive = url_path(root, archive_url)
                _zip_tree(images, archive)
                written.append(archive)
        if options.get("files"):
            _split_parquet(release, list(options["files"]))
        return written + _publish_tree(release, url_path(root, source))


def populate(root: str | Path, config: str | Path | dict, seed: int | None = None) -> dict[str, int]:
    """Write every URL-sourced benchmark and training set of ``config`` (a path or a dict) below
    ``root``; returns the number of files written per ``benchmarks.<name>`` / ``training_sets.<name>``."""
    if not isinstance(config, dict):
        config = yaml.safe_load(Path(config).read_text(encoding="utf-8"))
    config = validate_config(copy.deepcopy(config), SCHEMA)  # defaults filled in a copy
    seed = config["seed"] if seed is None else seed
    root = Path(root)
    counts = {}
    for name, entry in config["benchmarks"].items():
        if download.is_url(entry["source"]):
            counts[f"benchmarks.{name}"] = len(_populate_benchmark(root, name, entry, seed))
    for name, entry in config["training_sets"].items():
        if entry["format"] != ASSEMBLED and download.is_url(entry["source"]):
            counts[f"training_sets.{name}"] = len(_populate_training_set(root, name, entry, seed))
    return counts


# --------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fill = commands.add_parser("populate", help="write the config's sources below --root")
    fill.add_argument("--root", required=True, type=Path)
    fill.add_argument("--config", required=True, type=Path)
    fill.add_argument("--seed", type=int, default=None)
    serve = commands.add_parser("serve", help="serve --root on 127.0.0.1")
    serve.add_argument("--root", required=True, type=Path)
    serve.add_argument("--port", type=int, default=8800)
    args = parser.parse_args(argv)
    if args.command == "populate":
        for key, count in populate(args.root, args.config, args.seed).items():
            print(f"{key}: {count} files")
        return
    host = DataHost(args.root, args.port)
    buffer = io.StringIO()
    yaml.safe_dump({"mirrors": host.mirrors()}, buffer, sort_keys=False)
    print(f"serving {host.root} at {host.url}; add to the study config:\n{buffer.getvalue()}", flush=True)
    with host:
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
