"""download.py against a local HTTP server (127.0.0.1 only): success, resume, retries, checksums,
local-directory sources, zips — and every benchmark's fetch over HTTP and from a local mirror."""

from __future__ import annotations

import hashlib
import threading
import zipfile
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from think_in_safety import download
from think_in_safety.benchmarks import get_benchmark

PAYLOAD = bytes((i * 7919) % 251 for i in range(200_000))
FAST = {"backoff": 0.0, "timeout": 5.0}


class _Handler(BaseHTTPRequestHandler):
    """Serves files below server.root with Range support and injected faults."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(status)
        for key, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # name fixed by http.server
        server = self.server
        path = unquote(urlparse(self.path).path)
        range_header = self.headers.get("Range")
        with server.lock:
            server.requests.append((path, range_header))
            server.counts[path] += 1
            count = server.counts[path]
        if server.fail_first.get(path, 0) >= count:
            return self._send(500, b"injected failure")
        if path == "/drive/download":
            return self._drive(server, parse_qs(urlparse(self.path).query))
        file = server.root / path.lstrip("/")
        if not file.is_file():
            return self._send(404, b"not found")
        data = file.read_bytes()
        start, status, headers = 0, 200, {}
        if range_header and range_header.startswith("bytes="):
            start = int(range_header[6:].split("-")[0])
            if start >= len(data):
                return self._send(416, b"", {"Content-Range": f"bytes */{len(data)}"})
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        body = data[start:]
        if server.drop_first.get(path, 0) >= count:
            # Promise the whole body, send half, hang up: a dropped connection mid-download.
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        server.bytes_sent += len(body)
        self._send(status, body, headers)


    def _drive(self, server, query):
        """Google Drive's download endpoint as it behaves for files too large to virus-scan:
        an HTML page whose form resubmits with confirm and uuid tokens; then the bytes."""
        file_id = query.get("id", [""])[0]
        if file_id not in server.drive:
            return self._send(404, b"not found")
        data, kind = server.drive[file_id]
        html = {"Content-Type": "text/html; charset=utf-8"}
        if kind == "quota":  # "Too many users have viewed or downloaded this file recently"
            return self._send(200, b"<html><body><p>Quota exceeded</p></body></html>", html)
        confirmed = query.get("confirm") == ["t"] and query.get("uuid") == ["u-42"]
        if kind in ("large", "large-then-quota") and not confirmed:
            page = (
                '<html><body><p>Google Drive can\'t scan this file for viruses.</p>'
                f'<form id="download-form" action="{server.url}/drive/download" method="get">'
                '<input type="submit" value="Download anyway">'
                f'<input type="hidden" name="id" value="{file_id}">'
                '<input type="hidden" name="export" value="download">'
                '<input type="hidden" name="confirm" value="t">'
                '<input type="hidden" name="uuid" value="u-42"></form></body></html>'
            )
            return self._send(200, page.encode(), html)
        if kind == "large-then-quota":  # the quota ran out between the page and the download
            return self._send(200, b"<html><body>Quota exceeded</body></html>", html)
        self._send(200, data, {"Content-Type": "application/octet-stream"})


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.root = root
    httpd.lock = threading.Lock()
    httpd.requests, httpd.counts, httpd.bytes_sent = [], Counter(), 0
    httpd.fail_first, httpd.drop_first, httpd.drive = {}, {}, {}
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _publish(server, relative: str, data: bytes = PAYLOAD) -> str:
    path = server.root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return f"{server.url}/{relative}"


# --------------------------------------------------------------------------------------------
# http_download
# --------------------------------------------------------------------------------------------
def test_success(server, tmp_path):
    url = _publish(server, "files/data.bin")
    dest = download.http_download(url, tmp_path / "out/data.bin",
                                  sha256=hashlib.sha256(PAYLOAD).hexdigest(), **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "out/data.bin.part").exists()
    assert server.requests == [("/files/data.bin", None)]


def test_resume_partial_part_file(server, tmp_path):
    url = _publish(server, "data.bin")
    dest = tmp_path / "data.bin"
    Path(str(dest) + ".part").write_bytes(PAYLOAD[:50_000])
    download.http_download(url, dest, **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert server.requests == [("/data.bin", "bytes=50000-")]
    assert server.bytes_sent == len(PAYLOAD) - 50_000


def test_complete_part_file_is_published(server, tmp_path):
    url = _publish(server, "data.bin")
    dest = tmp_path / "data.bin"
    Path(str(dest) + ".part").write_bytes(PAYLOAD)
    download.http_download(url, dest, **FAST)  # server answers 416: nothing left to fetch
    assert dest.read_bytes() == PAYLOAD


def test_retry_after_server_errors(server, tmp_path):
    url = _publish(server, "flaky.bin")
    server.fail_first["/flaky.bin"] = 2
    download.http_download(url, tmp_path / "flaky.bin", retries=3, **FAST)
    assert (tmp_path / "flaky.bin").read_bytes() == PAYLOAD
    assert server.counts["/flaky.bin"] == 3


def test_dropped_connection_resumes_with_range(server, tmp_path):
    url = _publish(server, "drop.bin")
    server.drop_first["/drop.bin"] = 1
    download.http_download(url, tmp_path / "drop.bin", retries=2, **FAST)
    assert (tmp_path / "drop.bin").read_bytes() == PAYLOAD
    assert len(server.requests) == 2
    resumed_at = int(server.requests[1][1].removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= len(PAYLOAD) // 2  # what reached the disk before the hang-up


def test_connection_refused_is_retried_then_reported(tmp_path):
    import socket

    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/x.bin"
    with pytest.raises(download.DownloadError, match=r"failed after 3 attempts") as error:
        download.http_download(url, tmp_path / "x.bin", retries=2, **FAST)
    assert url in str(error.value) and "local copy" in str(error.value)


def test_retries_exhausted_keeps_part_for_next_run(server, tmp_path):
    url = _publish(server, "drop.bin")
    server.drop_first["/drop.bin"] = 99
    with pytest.raises(download.DownloadError, match="partial download is kept"):
        download.http_download(url, tmp_path / "drop.bin", retries=1, **FAST)
    assert (tmp_path / "drop.bin.part").stat().st_size > 0
    server.drop_first.clear()
    download.http_download(url, tmp_path / "drop.bin", **FAST)
    assert (tmp_path / "drop.bin").read_bytes() == PAYLOAD


def test_sha256_mismatch_leaves_no_file(server, tmp_path):
    url = _publish(server, "data.bin")
    with pytest.raises(download.DownloadError, match="sha256 mismatch") as error:
        download.http_download(url, tmp_path / "data.bin", sha256="0" * 64, **FAST)
    assert url in str(error.value)
    assert not (tmp_path / "data.bin").exists()
    assert not (tmp_path / "data.bin.part").exists()


def test_404_fails_at_once_with_a_hint(server, tmp_path):
    with pytest.raises(download.DownloadError, match="HTTP 404.*does not exist"):
        download.http_download(f"{server.url}/missing.csv", tmp_path / "m.csv", retries=5, **FAST)
    assert server.counts["/missing.csv"] == 1


def test_hf_token_only_sent_to_huggingface(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "secret")
    assert download.auth_headers("https://huggingface.co/datasets/x/resolve/main/a.json") == \
        {"Authorization": "Bearer secret"}
    assert download.auth_headers("https://raw.githubusercontent.com/a/b/main/c.csv") == {}
    assert download.join_url("https://h/base/", "data/a b.png") == "https://h/base/data/a%20b.png"


# --------------------------------------------------------------------------------------------
# local sources and archives
# --------------------------------------------------------------------------------------------
def test_local_directory_source(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "data/question").mkdir(parents=True)
    (mirror / "data/question/q.csv").write_bytes(b"a,b\n1,2\n")
    copied = download.fetch_file(str(mirror), "data/question/q.csv", tmp_path / "rel")
    assert copied.read_bytes() == b"a,b\n1,2\n" and not copied.is_symlink()
    linked = download.fetch_file(str(mirror), "data/question/q.csv", tmp_path / "lnk", link=True)
    assert linked.is_symlink() and linked.read_bytes() == b"a,b\n1,2\n"
    with pytest.raises(download.DownloadError, match=r"mirror/data/question/missing.csv does not exist"):
        download.fetch_file(str(mirror), "data/question/missing.csv", tmp_path / "rel")


def test_extract_zip_finds_nested_root(tmp_path):
    archive = tmp_path / "imgs.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("release/imgs/01-A/SD/0.jpg", b"sd")
        handle.writestr("release/imgs/01-A/TYPO/0.jpg", b"typo")
        handle.writestr("__MACOSX/._junk", b"x")
    out = download.extract_zip(archive, tmp_path / "out", marker="01-A/SD/0.jpg")
    assert (out / "01-A/SD/0.jpg").read_bytes() == b"sd"
    assert (out / "01-A/TYPO/0.jpg").read_bytes() == b"typo"
    assert sorted(p.name for p in out.iterdir()) == ["01-A"]
    with pytest.raises(download.DownloadError, match="does not contain"):
        download.extract_zip(archive, tmp_path / "out2", marker="02-B/SD/0.jpg")
    (tmp_path / "bad.zip").write_text("<html>not a zip</html>")
    with pytest.raises(download.DownloadError, match="not a zip archive"):
        download.extract_zip(tmp_path / "bad.zip", tmp_path / "out3")


def test_extract_zip_refuses_unsafe_paths(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("../escape.txt", b"x")
    with pytest.raises(download.DownloadError, match="unsafe member"):
        download.extract_zip(archive, tmp_path / "out")


# --------------------------------------------------------------------------------------------
# every benchmark's fetch, from a served demo release and from a local mirror
# --------------------------------------------------------------------------------------------
def _zip_dir(folder: Path, archive: Path, prefix: str) -> None:
    with zipfile.ZipFile(archive, "w") as handle:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                handle.write(path, f"{prefix}/{path.relative_to(folder)}")


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _same_table(a, b) -> bool:
    columns = [c for c in a.columns if c != "image_paths"]
    return a[columns].equals(b[columns])


@pytest.mark.parametrize("name", ["figstep", "mm_safetybench", "jailbreakv", "siuo", "mssbench"])
def test_fetch_over_http_reproduces_release(name, server, tmp_path):
    spec = get_benchmark(name)
    release = server.root / name
    spec.write_demo(release, seed=0)
    options = {"retries": 1, "backoff": 0.0, "workers": 4}
    if name == "mm_safetybench":
        _zip_dir(release / "imgs", server.root / "imgs.zip", "MM-SafetyBench/imgs")
        options["images_url"] = f"{server.url}/imgs.zip"
    if name == "siuo":
        options["images_source"] = f"{server.url}/siuo/data/images"
    if name == "jailbreakv":
        # The mini split needs neither the full CSV nor the images only the full split uses.
        mini = spec.load_prompts(release, {})
        keep = {Path(p) for paths in mini["image_paths"] for p in paths}
        for path in release.rglob("*.*"):
            if path.parent != release and path not in keep:
                path.unlink()
        (release / "JailBreakV_28K.csv").unlink()
    dest = tmp_path / "fetched"
    spec.fetch(f"{server.url}/{name}", dest, options)
    expected = _files(release)
    assert _files(dest) == expected
    assert _same_table(spec.load_prompts(dest, {}), spec.load_prompts(release, {}))


@pytest.mark.parametrize("name", ["figstep", "mm_safetybench", "jailbreakv", "siuo", "mssbench"])
def test_fetch_from_local_mirror(name, tmp_path):
    spec = get_benchmark(name)
    mirror = tmp_path / "mirror"
    spec.write_demo(mirror, seed=1)
    dest = tmp_path / "release"
    spec.fetch(str(mirror), dest, {"link": name == "siuo"})
    loaded = spec.load_prompts(dest, {})
    assert _same_table(loaded, spec.load_prompts(mirror, {}))
    assert all(Path(p).is_file() for paths in loaded["image_paths"] for p in paths)


@pytest.mark.parametrize("name", ["mm_safetybench", "siuo"])
def test_fetch_without_image_source_explains_where_to_get_images(name, server, tmp_path):
    with pytest.raises(download.DownloadError, match="images_url") as error:
        get_benchmark(name).fetch(f"{server.url}/{name}", tmp_path / "dest", {})
    assert "images are not in the git repository" in str(error.value)
    assert server.requests == []  # failed before downloading anything


def test_fetch_skip_images_gets_questions_only(server, tmp_path):
    spec = get_benchmark("mm_safetybench")
    spec.write_demo(server.root / "mm", seed=0)
    spec.fetch(f"{server.url}/mm", tmp_path / "dest", {"skip_images": True, "backoff": 0.0})
    assert len(list((tmp_path / "dest/data/processed_questions").glob("*.json"))) == 13
    assert not (tmp_path / "dest/imgs").exists()
    assert len(spec.load_prompts(tmp_path / "dest", {"require_images": False})) == 39


@pytest.mark.parametrize("over_http", [True, False])
def test_jailbreakv_fetch_accepts_repository_root(over_http, server, tmp_path):
    """Later HF revisions keep the release in JailBreakV_28K/: the repository root works as source."""
    spec = get_benchmark("jailbreakv")
    spec.write_demo(server.root / "repo/JailBreakV_28K", seed=0)
    source = f"{server.url}/repo" if over_http else str(server.root / "repo")
    spec.fetch(source, tmp_path / "dest", {"backoff": 0.0})
    assert len(spec.load_prompts(tmp_path / "dest", {})) == 32
    with pytest.raises(download.NotFoundError, match="point `source` at the folder"):
        spec.fetch(f"{server.url}/nowhere", tmp_path / "dest2", {"backoff": 0.0})


# --------------------------------------------------------------------------------------------
# Google Drive share links (image archives linked from benchmark READMEs)
# --------------------------------------------------------------------------------------------
@pytest.fixture
def drive(server, monkeypatch):
    monkeypatch.setattr(download, "GOOGLE_DRIVE_DOWNLOAD", f"{server.url}/drive/download")
    return server


def _archive_bytes(tmp_path) -> bytes:
    folder = tmp_path / "content/imgs/01-Illegal_Activitiy/SD"
    folder.mkdir(parents=True)
    (folder / "0.jpg").write_bytes(PAYLOAD[:1000])
    _zip_dir(tmp_path / "content", tmp_path / "archive.zip", "MM-SafetyBench")
    return (tmp_path / "archive.zip").read_bytes()


@pytest.mark.parametrize(
    "link",
    [
        "https://drive.google.com/file/d/{id}/view?usp=sharing",
        "https://drive.google.com/open?id={id}",
        "https://drive.google.com/uc?id={id}&export=download",
    ],
)
def test_google_drive_share_links_name_the_file(link):
    assert download.google_drive_id(link.format(id="1xjW9-ab_CD")) == "1xjW9-ab_CD"
    assert download.google_drive_id("https://example.org/file/d/1xjW9/view") is None


def test_google_drive_large_file_confirms_the_virus_scan_page(drive, tmp_path):
    data = _archive_bytes(tmp_path)
    drive.drive["BIG"] = (data, "large")
    dest = tmp_path / "release"
    download.fetch_zip("https://drive.google.com/file/d/BIG/view?usp=sharing", dest,
                       marker="01-Illegal_Activitiy/SD/0.jpg", sha256=hashlib.sha256(data).hexdigest(), **FAST)
    assert (dest / "01-Illegal_Activitiy/SD/0.jpg").read_bytes() == PAYLOAD[:1000]
    assert not (dest / "BIG.zip").exists()  # the archive is removed once extracted
    queries = [parse_qs(urlparse(path).query) for path, _ in drive.requests]
    assert len(queries) == 2  # the page, then the confirmed download: the archive is fetched once


def test_google_drive_small_file_downloads_directly(drive, tmp_path):
    drive.drive["SMALL"] = (_archive_bytes(tmp_path), "small")
    download.fetch_zip("https://drive.google.com/open?id=SMALL", tmp_path / "out", **FAST)
    assert (tmp_path / "out/MM-SafetyBench/imgs/01-Illegal_Activitiy/SD/0.jpg").is_file()


@pytest.mark.parametrize("kind", ["quota", "large-then-quota"])
def test_google_drive_quota_page_is_a_clear_error(drive, tmp_path, kind):
    drive.drive["BUSY"] = (b"", kind)
    with pytest.raises(download.DownloadError, match="quota") as error:
        download.fetch_zip("https://drive.google.com/file/d/BUSY/view", tmp_path / "out", **FAST)
    assert "local path" in str(error.value)
    assert not (tmp_path / "out/BUSY.zip").exists()
    assert len(drive.requests) == (1 if kind == "quota" else 2)  # a refusal is not retried


def test_mm_safetybench_images_from_a_google_drive_link(drive, tmp_path):
    spec = get_benchmark("mm_safetybench")
    release = drive.root / "mm"
    spec.write_demo(release, seed=0)
    _zip_dir(release / "imgs", tmp_path / "imgs.zip", "MM-SafetyBench/imgs")
    drive.drive["IMGS"] = ((tmp_path / "imgs.zip").read_bytes(), "large")
    dest = tmp_path / "fetched"
    spec.fetch(f"{drive.url}/mm", dest,
               {"images_url": "https://drive.google.com/file/d/IMGS/view", "backoff": 0.0})
    assert _files(dest) == _files(release)
