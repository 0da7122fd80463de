"""A hub id that does not exist, or a revision that is not one of its commits, is named with the
config key to fix; so is a hub id written as a local path (which would otherwise fail inside
transformers with "couldn't connect"). The hub is the loopback stand-in of tests/servers."""

from __future__ import annotations

import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest
import yaml

from think_in_safety.hub import HubDownloadError, WeightsNotFoundError, check_weights_folder, registry_users
from think_in_safety.models import generate

from ..conftest import REPO
from ..servers.hub_server import HubServer, add_revision
from .test_hub import BIN, OTHER_REV, REV, fetch, online, server, source  # noqa: F401  (fixtures)


def test_an_unknown_repo_names_the_repo_the_revision_and_the_key(server, tmp_path):  # noqa: F811
    with pytest.raises(HubDownloadError) as error:
        fetch(server, tmp_path, repo="org/nope", used_by=("models.my-model.weights",))
    message = str(error.value)
    assert f"model repository org/nope was not found on {server.endpoint}" in message
    assert f"revision {REV}" in message and "check models.my-model.weights (hf:org/nope" in message


def test_an_unknown_revision_names_the_revision_key(server, tmp_path):  # noqa: F811
    with pytest.raises(HubDownloadError) as error:
        fetch(server, tmp_path, revision=OTHER_REV, used_by=("judges.guard.model",))
    assert f"revision {OTHER_REV} of org/tiny was not found" in str(error.value)
    assert "in judges.guard.revision" in str(error.value)


class BareNotFound(BaseHTTPRequestHandler):
    """A mirror that answers every request 404 with no hub error header."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(404)
        self.send_header("Content-Length", "9")
        self.end_headers()
        self.wfile.write(b"not found")

    do_HEAD = do_GET

    def log_message(self, *args):
        pass


def test_a_mirror_answering_a_bare_404_is_a_missing_repo(online, tmp_path):  # noqa: F811
    mirror = ThreadingHTTPServer(("127.0.0.1", 0), BareNotFound)
    threading.Thread(target=mirror.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{mirror.server_address[1]}"
    try:
        with pytest.raises(HubDownloadError, match=rf"org/nope was not found on {endpoint} .*check models.m.weights"):
            fetch(type("S", (), {"endpoint": endpoint})(), tmp_path, repo="org/nope", used_by=("models.m.weights",))
    finally:
        mirror.shutdown()


def test_registry_users_are_the_keys_naming_that_download():
    config = {"models": {"a": {"weights": "hf:org/x", "revision": REV}, "b": {"weights": "hf:org/x", "revision":
                                                                               OTHER_REV},
                         "c": {"weights": "built"}},
              "judges": {"guard": {"backend": "transformers", "model": "hf:org/x", "revision": REV}},
              "tis": {"captioner": {"model": "hf:org/x", "revision": REV}, "seed": 3}}
    assert registry_users(config, "org/x", REV) == ["models.a.weights", "judges.guard.model", "tis.captioner.model"]
    assert registry_users(config, "org/y", REV) == []


def test_a_hub_id_written_as_a_path_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WeightsNotFoundError, match=r"models.m.weights is 'Qwen/Nope-7B'.*write it as weights: "
                                                   r"hf:Qwen/Nope-7B with revision"):
        check_weights_folder("Qwen/Nope-7B", "models.m.weights")
    with pytest.raises(WeightsNotFoundError, match=r"models.m.weights is '/no/such/model'.*folder holding"):
        check_weights_folder("/no/such/model", "models.m.weights")
    (tmp_path / "here").mkdir()
    check_weights_folder("here", "models.m.weights")


def test_generation_names_weights_that_are_not_a_folder(tmp_path, monkeypatch):
    """The transformers backend is built only when a batch is left: that is where the id is checked
    (before, transformers itself failed on it, offline, with "couldn't connect" and no config key)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    prompts = pd.DataFrame({"id": ["a"], "benchmark": ["demo"], "prompt": ["hi"], "image_paths": [[]],
                            "system_prompt": [""], "n_samples": [1]})
    with pytest.raises(WeightsNotFoundError, match=r"models.qwen.weights is 'Qwen/Nope-7B'.*hf:Qwen/Nope-7B"):
        generate.generate_responses(prompts, "qwen", "Qwen/Nope-7B", "none", {}, tmp_path / "out.parquet",
                                    log=lambda _: None)


def test_the_download_job_names_the_config_key(tmp_path, source, online):  # noqa: F811
    """download_model as Snakemake runs it: the job's error names the models entry to fix."""
    add_revision(tmp_path / "hub", "org/tiny", REV, source)
    with HubServer(tmp_path / "hub") as stand_in:
        config = {"benchmarks": {"figstep": {}}, "models": {"typo": {"weights": "hf:org/tinny", "revision": REV}},
                  "mirrors": {"https://huggingface.co": stand_in.endpoint}}
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
        work = tmp_path / "work"
        command = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--workflow-profile", "none",
                   "--cores", "1", "--configfile", str(tmp_path / "config.yaml"), "--directory", str(work),
                   f"resources/hub/org/tinny/{REV}.manifest.json"]
        env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path)}
        result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode != 0
    log = (work / f"logs/download_model/org/tinny/{REV}.log").read_text()
    assert "model repository org/tinny was not found" in log and "check models.typo.weights" in log
