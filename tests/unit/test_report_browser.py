"""The report in a real browser: headless Chromium (Debian package ``chromium``) opens the page
rendered from a synthetic results folder, driven over the Chrome DevTools protocol (CDP) with
the ``websockets`` client. The test fails on console errors, on any request to another host, or
when the ``<script>``, inline handler or remote image planted in model outputs takes effect; it
saves screenshots of the first screen and of one benchmark section.

A second page, deliberately unescaped, checks that this harness does see an executed script and
a request to another host (so a passing test means something). Skipped when chromium is absent.
Screenshots go to the test's tmp directory, or to $TIS_SCREENSHOT_DIR when set.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from . import synthetic_study

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (Debian: apt-get install chromium)"
)
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic", "--remote-debugging-port=0",
    "--remote-allow-origins=*", "--window-size=1280,900",
]
LOCAL_SCHEMES = ("file:", "data:", "about:")


class Browser:
    """A headless Chromium and one page, spoken to over CDP (flattened target sessions)."""

    def __init__(self, profile: Path, timeout: float = 30.0):
        from websockets.sync.client import connect

        self.process = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.close()
                raise RuntimeError(f"chromium did not open its DevTools port within {timeout} s")
            time.sleep(0.1)
        port, path = port_file.read_text().splitlines()[:2]
        self.socket = connect(f"ws://127.0.0.1:{port}{path}", max_size=None, open_timeout=timeout)
        self.next_id = 0
        self.events: list[dict] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=1280, height=900,
                  deviceScaleFactor=1, mobile=False)

    def call(self, method: str, session: bool = False, timeout: float = 60.0, **params) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        self.socket.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self.socket.recv(timeout=max(0.1, deadline - time.monotonic())))
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            self.events.append(json.loads(self.socket.recv(timeout=max(0.1, deadline - time.monotonic()))))

    def open(self, url: str, settle: float = 1.0) -> None:
        self.events.clear()
        self.call("Page.navigate", session=True, url=url)
        self.wait_for("Page.loadEventFired")
        time.sleep(settle)
        self.evaluate("1")  # collects the events that arrived meanwhile

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True)
        return result["result"].get("value")

    def screenshot(self, path: Path, element: str | None = None, max_height: int = 4000) -> None:
        """The viewport, or the whole element with id ``element`` (up to ``max_height`` pixels)."""
        options = {}
        if element:
            box = self.evaluate(f"(() => {{ const r = document.getElementById('{element}').getBoundingClientRect();"
                                " return [r.left + scrollX, r.top + scrollY, r.width, r.height]; })()")
            options = {"clip": {"x": box[0], "y": box[1], "width": box[2], "height": min(box[3], max_height),
                                "scale": 1}, "captureBeyondViewport": True}
        data = self.call("Page.captureScreenshot", session=True, format="png", **options)["data"]
        path.write_bytes(base64.b64decode(data))

    def problems(self) -> dict[str, list[str]]:
        """Console errors, uncaught exceptions, and requests for anything not local."""
        errors, requests, logs = [], [], []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled":
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
                (errors if params.get("type") in ("error", "assert") else logs).append(text)
            elif method == "Runtime.exceptionThrown":
                errors.append(params["exceptionDetails"].get("text", "exception"))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                errors.append(params["entry"].get("text", ""))
            elif method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                if not url.startswith(LOCAL_SCHEMES):
                    requests.append(url)
        return {"errors": errors, "requests": requests, "logs": logs}

    def close(self) -> None:
        try:
            self.socket.close()
        except Exception:  # noqa: BLE001 -- closing a socket of a browser that already exited
            pass
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture()
def browser(tmp_path):
    chromium = Browser(tmp_path / "profile")
    yield chromium
    chromium.close()


def test_report_opens_cleanly_and_planted_html_stays_text(synthetic_report, browser, tmp_path):
    shots = Path(os.environ.get("TIS_SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    browser.open(synthetic_report.as_uri())

    problems = browser.problems()
    assert problems["errors"] == [], problems["errors"]
    assert problems["requests"] == [], problems["requests"]
    assert "PLANTED" not in " ".join(problems["logs"])
    assert browser.evaluate("window.__planted === undefined") is True
    assert browser.evaluate("document.scripts.length") == 0
    text = browser.evaluate("document.body.textContent")  # closed <details> included
    for attack in synthetic_study.ATTACKS.values():
        assert attack in text  # shown as text, not interpreted
    # every image is embedded and decodes (figures and prompt thumbnails)
    images = browser.evaluate("Array.from(document.images).map(i => [i.src.slice(0, 11), i.naturalWidth])")
    assert len(images) >= 10 and all(src == "data:image/" and width > 0 for src, width in images), images
    for section in ("summary", "safety-variation", "thought-vs-answer", "finetuning", "tis-composition",
                    "benchmark-figstep", "provenance"):
        assert browser.evaluate(f"document.getElementById('{section}') !== null"), section

    browser.screenshot(shots / "report_first_screen.png")
    browser.screenshot(shots / "report_benchmark_section.png", element="benchmark-mm_safetybench")
    for name in ("report_first_screen.png", "report_benchmark_section.png"):
        assert (shots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_harness_sees_an_executed_script_and_a_remote_request(browser, tmp_path):
    """The control: the same checks on a page that does not escape must fail."""
    page = tmp_path / "unescaped.html"
    page.write_text("<!DOCTYPE html><html><body><p>answer:</p>" + synthetic_study.ATTACKS["script"]
                    + synthetic_study.ATTACKS["remote"] + "<script>console.error('boom')</script></body></html>")
    browser.open(page.as_uri())
    problems = browser.problems()
    assert browser.evaluate("window.__planted") == "script"
    assert "PLANTED" in " ".join(problems["logs"])
    assert any("example.com" in url for url in problems["requests"]), problems
    assert any("boom" in error for error in problems["errors"]), problems
