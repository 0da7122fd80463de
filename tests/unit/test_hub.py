"""Hub weights as data: a model repository fetched at a pinned commit, its manifest, the errors a
user meets (gated, unknown repo or revision, no network), the registry's `revision` key, and the
download_model jobs the paper study plans.

No network: the hub is tests/servers/hub_server.py, a stand-in of our own on 127.0.0.1 that
speaks the endpoints huggingface_hub calls (tree listing, HEAD/GET resolve with ETag,
X-Repo-Commit, Range) and answers gated and missing repositories with the hub's error headers.
huggingface_hub itself is real: snapshot_download, its resume and its error classes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from think_in_safety import hub
from think_in_safety.config import ConfigError, hub_location, hub_manifest, validate_config, weights_location
from think_in_safety.hub import HubDownloadError, download_snapshot, hub_endpoint, manifest_digest, read_manifest

from ..conftest import REPO
from ..servers.hub_server import HubServer, add_revision, git_blob_oid

SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
BIN = Path(sys.executable).parent
REV = "3f2a9c61d0b4e8a7c5f1e2d3b4a5968778695a4b"
OTHER_REV = "0123456789abcdef0123456789abcdef01234567"
GATED = "meta-llama/Tiny-Gated"
TOKEN = "hf_accepted_licence"


# ------------------------------------------------------------------------------------------------
# fixtures: an online huggingface_hub (whatever the caller's HF_HUB_OFFLINE), a repo, the stand-in
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def online(monkeypatch, tmp_path):
    """huggingface_hub as a user without HF_HUB_OFFLINE, token or cache sees it (`make test`
    exports HF_HUB_OFFLINE=1, which huggingface_hub reads once, at import)."""
    import huggingface_hub.constants as constants

    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_ENDPOINT", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-stored-token"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    return constants


def write_repo(folder: Path, weights_bytes: int = 64 * 1024) -> Path:
    """A small model folder: JSON configs, a tokenizer file, weights (LFS on the hub), a subfolder."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "tiny", "hidden_size": 8}))
    (folder / "tokenizer_config.json").write_text(json.dumps({"eos_token": "<|im_end|>"}))
    (folder / "model.safetensors").write_bytes(os.urandom(weights_bytes))
    (folder / "original").mkdir()
    (folder / "original" / "params.json").write_text('{"dim": 8}')
    return folder


@pytest.fixture
def source(tmp_path):
    return write_repo(tmp_path / "source")


@pytest.fixture
def server(tmp_path, source, online):
    root = tmp_path / "hub"
    add_revision(root, "org/tiny", REV, source)
    add_revision(root, GATED, REV, source)
    with HubServer(root, gated=[GATED], token=TOKEN) as stand_in:
        yield stand_in


def fetch(server, tmp_path, repo="org/tiny", revision=REV, **options):
    local_dir = tmp_path / "resources/hub" / repo / revision
    return download_snapshot(repo, revision, local_dir, f"{local_dir}.manifest.json", endpoint=server.endpoint,
                             **options), local_dir


def file_gets(server) -> list[str]:
    return [path for method, path, _, _ in server.requests if method == "GET" and "/resolve/" in path]


# ------------------------------------------------------------------------------------------------
# the download and its manifest
# ------------------------------------------------------------------------------------------------
def test_download_at_a_pinned_revision_and_the_manifest(server, source, tmp_path):
    manifest, local_dir = fetch(server, tmp_path)

    names = sorted(p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file())
    for name in names:
        assert (local_dir / name).read_bytes() == (source / name).read_bytes()
    # every file was asked for at the commit, never at a branch
    assert all(f"/resolve/{REV}/" in path for path in file_gets(server))
    assert {path.split(f"/resolve/{REV}/")[1] for path in file_gets(server)} == set(names)

    written = read_manifest(local_dir.parent / f"{REV}.manifest.json")
    assert written == manifest
    assert (written["repo"], written["revision"], written["endpoint"]) == ("org/tiny", REV, server.endpoint)
    by_path = {f["path"]: f for f in written["files"]}
    assert sorted(by_path) == names
    weights = (source / "model.safetensors").read_bytes()
    assert by_path["model.safetensors"] == {"path": "model.safetensors", "size": len(weights),
                                            "sha256": hashlib.sha256(weights).hexdigest(),
                                            "git_oid": git_blob_oid(weights)}
    config = (source / "config.json").read_bytes()
    assert by_path["config.json"]["sha256"] is None  # not an LFS file: the hub gives its git blob id
    assert by_path["config.json"]["git_oid"] == git_blob_oid(config)
    assert written["total_bytes"] == sum(f["size"] for f in written["files"])
    assert written["digest"] == manifest_digest("org/tiny", REV, written["files"])
    # written last: no file of the copy is newer than the manifest
    newest = max((local_dir / name).stat().st_mtime_ns for name in names)
    assert (local_dir.parent / f"{REV}.manifest.json").stat().st_mtime_ns >= newest

    # a second run finds every file finished and fetches none
    before = len(file_gets(server))
    assert fetch(server, tmp_path)[0]["digest"] == written["digest"]
    assert len(file_gets(server)) == before


def test_a_transfer_cut_mid_file_resumes_with_a_range_request(tmp_path, online):
    source = write_repo(tmp_path / "big", weights_bytes=12 * 1024 * 1024)
    add_revision(tmp_path / "hub", "org/big", REV, source)
    with HubServer(tmp_path / "hub") as server:
        server.drop_once["model.safetensors"] = 11 * 1024 * 1024  # the connection drops once, mid-body
        manifest, local_dir = fetch(server, tmp_path, repo="org/big")
    assert (local_dir / "model.safetensors").read_bytes() == (source / "model.safetensors").read_bytes()
    ranges = [rng for method, path, rng, _ in server.requests if method == "GET" and path.endswith("model.safetensors")]
    # huggingface_hub writes in 10 MiB chunks: it resumes after the first one, not from zero
    assert ranges == [None, f"bytes={10 * 1024 * 1024}-"]
    assert manifest["files"][[f["path"] for f in manifest["files"]].index("model.safetensors")]["size"] == 12 * 2**20


def test_an_interrupted_job_keeps_its_finished_files_and_the_rerun_resumes(server, tmp_path):
    server.drop_always["model.safetensors"] = 0  # this transfer cannot finish: the job fails
    with pytest.raises(HubDownloadError, match=re.escape(server.endpoint)) as error:
        fetch(server, tmp_path)
    assert "rerun" in str(error.value)
    local_dir = tmp_path / "resources/hub/org/tiny" / REV
    assert not (local_dir.parent / f"{REV}.manifest.json").exists()  # no manifest: Snakemake reruns the job
    assert (local_dir / "config.json").is_file() and not (local_dir / "model.safetensors").exists()

    del server.drop_always["model.safetensors"]
    before = len(file_gets(server))
    fetch(server, tmp_path)
    again = [path.rsplit("/", 1)[1] for path in file_gets(server)[before:]]
    assert again == ["model.safetensors"]  # the finished files were not fetched again


def test_a_corrupted_local_file_is_fetched_again(server, source, tmp_path):
    manifest, local_dir = fetch(server, tmp_path)
    (local_dir / "model.safetensors").write_bytes(b"not the weights")
    (local_dir.parent / f"{REV}.manifest.json").unlink()
    fetch(server, tmp_path)
    assert (local_dir / "model.safetensors").read_bytes() == (source / "model.safetensors").read_bytes()


# ------------------------------------------------------------------------------------------------
# the errors a user meets, each naming the model and the fix
# ------------------------------------------------------------------------------------------------
def test_gated_repo_without_a_token_names_the_licence_page(server, tmp_path):
    with pytest.raises(HubDownloadError) as error:
        fetch(server, tmp_path, repo=GATED)
    message = str(error.value)
    assert "gated" in message and f"https://huggingface.co/{GATED}" in message
    assert "accept the licence" in message.lower() and "export HF_TOKEN=" in message
    assert not (tmp_path / f"resources/hub/{GATED}/{REV}.manifest.json").exists()


def test_gated_repo_with_a_refused_token_says_so(server, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_not_granted")
    with pytest.raises(HubDownloadError, match=r"refused the token.*403") as error:
        fetch(server, tmp_path, repo=GATED)
    assert f"https://huggingface.co/{GATED}" in str(error.value)


def test_gated_repo_with_an_accepted_token_downloads(server, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    manifest, local_dir = fetch(server, tmp_path, repo=GATED)
    assert (local_dir / "model.safetensors").is_file() and manifest["repo"] == GATED
    assert {auth for method, path, _, auth in server.requests if "/resolve/" in path} == {f"Bearer {TOKEN}"}


def test_unknown_revision_is_named(server, tmp_path):
    with pytest.raises(HubDownloadError) as error:
        fetch(server, tmp_path, revision=OTHER_REV)
    message = str(error.value)
    assert f"revision {OTHER_REV} of org/tiny was not found" in message
    assert "https://huggingface.co/org/tiny/commits/main" in message


def test_unknown_repo_is_named(server, tmp_path):
    with pytest.raises(HubDownloadError, match="model repository org/nope was not found") as error:
        fetch(server, tmp_path, repo="org/nope")
    assert "hf:org/nope" in str(error.value)


def test_an_unreachable_endpoint_is_named(online, tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    with pytest.raises(HubDownloadError, match=rf"cannot reach the Hugging Face hub at {re.escape(endpoint)}"):
        download_snapshot("org/tiny", REV, tmp_path / "copy", tmp_path / "copy.manifest.json", endpoint=endpoint)


def test_offline_mode_in_the_environment_is_named(server, tmp_path, online):
    online.HF_HUB_OFFLINE = True
    with pytest.raises(HubDownloadError, match="HF_HUB_OFFLINE is set"):
        fetch(server, tmp_path)


def test_a_revision_that_is_not_a_commit_is_refused_before_any_request(server, tmp_path):
    with pytest.raises(HubDownloadError, match="not a 40-hex commit hash"):
        fetch(server, tmp_path, revision="main")
    assert server.requests == []


def test_endpoint_from_the_mirrors_then_hf_endpoint_then_the_hub():
    assert hub_endpoint({"https://huggingface.co": "http://127.0.0.1:9000/"}, {"HF_ENDPOINT": "http://x"}) == \
        "http://127.0.0.1:9000"
    assert hub_endpoint({"https://raw.githubusercontent.com": "http://y"}, {"HF_ENDPOINT": "http://x/"}) == "http://x"
    assert hub_endpoint(None, {}) == "https://huggingface.co"


# ------------------------------------------------------------------------------------------------
# a real tiny model: downloaded, then loaded from its local copy with the hub gone
# ------------------------------------------------------------------------------------------------
def test_a_downloaded_model_loads_from_its_local_copy_without_the_hub(tiny_model, tmp_path, online, monkeypatch):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    add_revision(tmp_path / "hub", "org/tiny-vl", REV, tiny_model)
    with HubServer(tmp_path / "hub") as server:
        manifest, local_dir = fetch(server, tmp_path, repo="org/tiny-vl")
    config = validate_config({"benchmarks": {"figstep": {}},
                              "models": {"m": {"weights": "hf:org/tiny-vl", "revision": REV}}}, SCHEMA)
    monkeypatch.chdir(tmp_path)  # weights_location is relative to the working directory, as in a job
    location = weights_location(config, "m")
    assert Path(location).resolve() == local_dir.resolve()
    # the stand-in is shut down: nothing below can reach a hub
    model = AutoModelForImageTextToText.from_pretrained(location)
    processor = AutoProcessor.from_pretrained(location)
    assert model.config.model_type == "qwen2_5_vl" and processor.tokenizer is not None
    assert any(f["path"] == "model.safetensors" and f["sha256"] for f in manifest["files"])


# ------------------------------------------------------------------------------------------------
# the registry: revision required for hub weights, lookups of the local copy and its manifest
# ------------------------------------------------------------------------------------------------
def minimal(**models):
    return {"benchmarks": {"figstep": {}}, "models": models}


def test_config_refuses_hub_weights_without_a_revision():
    with pytest.raises(ConfigError) as error:
        validate_config(minimal(m={"weights": "hf:org/tiny"}), SCHEMA)
    message = str(error.value)
    assert "models.m" in message and "no revision" in message and "pin a commit" in message
    assert "hf models info org/tiny --expand sha" in message and "models.m.revision" in message


@pytest.mark.parametrize("change, message", [
    (lambda c: c["models"]["m"].update(revision="main"), r"models\.m\.revision.*does not match"),
    (lambda c: c["models"]["m"].update(revision=REV[:12]), r"models\.m\.revision.*does not match"),
    (lambda c: c["models"].update(local={"weights": "/data/models/x", "revision": REV}),
     r"models\.local\.revision is set.*hub weights only"),
    (lambda c: c["models"]["m"].update(weights="hf:tiny"), r"not a hub model id: write hf:<org>/<name>"),
    (lambda c: c.update(judges={"rule": {"backend": "rule"},
                                "j": {"backend": "transformers", "model": "hf:org/judge"}}),
     r"judges\.j loads hf:org/judge .* no revision; pin a commit"),
    (lambda c: c.update(judges={"rule": {"backend": "rule"},
                                "g": {"backend": "openai_compatible", "base_url": "http://x/v1", "model": "m",
                                      "revision": REV}}),
     r"judges\.g\.revision is set, but only a transformers judge"),
    (lambda c: c.update(tis={"captioner": {"backend": "transformers", "model": "hf:org/captioner"}}),
     r"tis\.captioner loads hf:org/captioner .* no revision"),
])
def test_config_names_each_revision_mistake(change, message):
    config = minimal(m={"weights": "hf:org/tiny", "revision": REV})
    change(config)
    with pytest.raises(ConfigError, match=message):
        validate_config(config, SCHEMA)


def test_weights_location_is_the_local_copy_and_the_manifest_sits_next_to_it():
    config = validate_config({
        "benchmarks": {"figstep": {"judge": "j"}},
        "models": {"m": {"weights": "hf:org/tiny", "revision": REV}, "local": {"weights": "/data/x"}},
        "judges": {"j": {"backend": "transformers", "model": "hf:org/judge", "revision": OTHER_REV}},
        "tis": {"writer": {"backend": "transformers", "model": "hf:org/writer", "revision": REV}},
    }, SCHEMA)
    assert weights_location(config, "m") == f"resources/hub/org/tiny/{REV}"
    assert hub_manifest(config, "models.m") == f"resources/hub/org/tiny/{REV}.manifest.json"
    assert weights_location(config, "local") == "/data/x" and hub_manifest(config, "models.local") is None
    assert hub_location(config, "judges.j") == f"resources/hub/org/judge/{OTHER_REV}"
    assert hub_manifest(config, "tis.writer") == f"resources/hub/org/writer/{REV}.manifest.json"
    assert hub_manifest(config, "tis.captioner") is None  # precomputed captions load nothing
    assert hub.snapshot_dir("org/tiny", REV) == weights_location(config, "m")


def test_a_pinned_transformers_judge_loads_its_local_copy(tmp_path, monkeypatch):
    from think_in_safety.judges import JudgeEndpointError, make_judge

    judge = make_judge("local", {"backend": "transformers", "model": "hf:org/judge", "revision": REV, "cache": None})
    assert judge.location == f"resources/hub/org/judge/{REV}"
    assert judge.model == f"hf:org/judge@{REV}" and judge.endpoint == f"transformers:org/judge@{REV}"
    monkeypatch.chdir(tmp_path)  # no local copy here
    with pytest.raises(JudgeEndpointError, match=r"local copy .* is missing.*download_model"):
        judge._load()


def test_provenance_records_each_models_revision_and_manifest_digest(tmp_path, monkeypatch):
    from think_in_safety.report import collect_provenance

    config = validate_config(minimal(m={"weights": "hf:org/tiny", "revision": REV},
                                     n={"weights": "hf:org/other", "revision": OTHER_REV}), SCHEMA)
    monkeypatch.chdir(tmp_path)
    manifest = Path(hub_manifest(config, "models.m"))
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"repo": "org/tiny", "revision": REV, "digest": "d" * 64}))
    models = collect_provenance(config)["models"]
    assert models["m"]["revision"] == REV and models["m"]["manifest digest (sha256)"] == "d" * 64
    assert models["n"]["revision"] == OTHER_REV
    assert "download_model has not run" in models["n"]["manifest digest (sha256)"]


# ------------------------------------------------------------------------------------------------
# the stand-in's command line (the rehearsal starts it this way)
# ------------------------------------------------------------------------------------------------
def test_the_hub_stand_in_runs_from_its_command_line(tmp_path, source):
    add_revision(tmp_path / "hub", GATED, REV, source)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "tests.servers.hub_server", "--root", str(tmp_path / "hub"),
                                "--port", str(port), "--gated", GATED, "--token", TOKEN],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                info = json.load(urllib.request.urlopen(f"{base}/api/models/{GATED}/revision/main", timeout=2))
                break
            except OSError:
                time.sleep(0.1)
        assert info["sha"] == REV and info["gated"] == "manual"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/{GATED}/resolve/{REV}/config.json", timeout=2)
        assert refused.value.code == 401 and refused.value.headers["X-Error-Code"] == "GatedRepo"
        request = urllib.request.Request(f"{base}/{GATED}/resolve/{REV}/config.json",
                                         headers={"Authorization": f"Bearer {TOKEN}"})
        assert urllib.request.urlopen(request, timeout=2).read() == (source / "config.json").read_bytes()
    finally:
        process.terminate()
        process.wait(timeout=10)


# ------------------------------------------------------------------------------------------------
# the workflow: one download_model job per distinct hub repository and commit, ahead of its users
# ------------------------------------------------------------------------------------------------
def snakemake(*args, cwd, env=None, timeout=600):
    command = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--workflow-profile", "none", *args]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))}
    clean["PATH"] = f"{BIN}{os.pathsep}{clean['PATH']}"
    result = subprocess.run(command, cwd=cwd, env={**clean, **(env or {})}, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
    return result.stdout + result.stderr


def planned(output: str) -> list[dict]:
    """Each job of a dry run: rule, inputs, outputs, wildcards, in the order Snakemake runs them."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", output):
        rule = re.match(r"(?:local)?rule (\w+):", block)
        if not rule:
            continue
        field = {key: re.search(rf"^\s+{key}: (.*)$", block, re.M) for key in ("input", "output", "wildcards")}
        values = {key: (m.group(1).split(", ") if m else []) for key, m in field.items()}
        jobs.append({"rule": rule.group(1), **values,
                     "wildcards": dict(item.split("=", 1) for item in values["wildcards"])})
    return jobs


#: rules whose job loads the model named by its `model` wildcard
LOADERS = ("generate", "over_refusal_responses", "validate_training_set", "sft")


def test_the_paper_study_plans_one_download_per_hub_model_ahead_of_its_users(tmp_path):
    config = validate_config(yaml.safe_load((REPO / "config/paper.yaml").read_text()), SCHEMA)
    expected = {hub_manifest(config, f"models.{name}") for name in config["models"]} - {None}
    assert len(expected) == 16  # sixteen registry models (five bases, eleven reasoners), all from the hub

    jobs = planned(snakemake("-n", "--configfile", str(REPO / "config/paper.yaml"), "--directory", str(tmp_path),
                             cwd=REPO))
    downloads = [job for job in jobs if job["rule"] == "download_model"]
    assert sorted(out for job in downloads for out in job["output"]) == sorted(expected)  # one job each
    position = {job["output"][0]: index for index, job in enumerate(jobs) if job["rule"] == "download_model"}
    users = 0
    for index, job in enumerate(jobs):
        model = job["wildcards"].get("model")
        if job["rule"] not in LOADERS or "+" in (model or ""):
            continue  # tuned models load the sft output, which itself waits for the download
        manifest = hub_manifest(config, f"models.{model}")
        assert manifest in job["input"], (job["rule"], model, job["input"])
        assert position[manifest] < index, f"{job['rule']} of {model} is planned before its download"
        users += 1
    # generate (one job per model, for all five benchmarks); over-refusal, validation (x five sets)
    # and SFT (x five sets) of the two models that are fine-tuned
    assert users == 16 + 2 + 2 * 5 + 2 * 5


def test_local_judges_and_the_tis_captioner_wait_for_their_downloads(tmp_path):
    config = {
        "benchmarks": {"figstep": {"judge": "local"}},
        "models": {"m": {"weights": "hf:org/tiny", "revision": REV}},
        "judges": {"rule": {"backend": "rule"},
                   "local": {"backend": "transformers", "model": "hf:org/judge", "revision": OTHER_REV}},
        "training_sets": {"vlguard": {"format": "vlguard"}, "tis_assembled": {"format": "tis_assembly"}},
        "tis": {"sources": [{"training_set": "vlguard"}],
                "captioner": {"backend": "transformers", "model": "hf:org/captioner", "revision": REV},
                "writer": {"backend": "template"}},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    jobs = planned(snakemake("-n", "--configfile", str(path), "--directory", str(tmp_path), cwd=REPO))
    manifests = {name: f"resources/hub/{repo}.manifest.json" for name, repo in
                 {"m": f"org/tiny/{REV}", "judge": f"org/judge/{OTHER_REV}",
                  "captioner": f"org/captioner/{REV}"}.items()}
    assert sorted(out for job in jobs if job["rule"] == "download_model" for out in job["output"]) == \
        sorted(manifests.values())
    judging = [job for job in jobs
               if job["rule"] in ("judge", "judge_agreement") and job["wildcards"]["judge"] == "local"]
    assert judging and all(manifests["judge"] in job["input"] for job in judging)
    captions = [job for job in jobs if job["rule"] == "tis_captions"]
    assert len(captions) == 1 and manifests["captioner"] in captions[0]["input"]


def test_download_model_runs_as_a_job_through_the_configs_mirror(tmp_path, source):
    """The rule for real: Snakemake runs download_model (a local rule) against the stand-in, which
    the config's mirrors entry for https://huggingface.co names."""
    add_revision(tmp_path / "hub", "org/tiny", REV, source)
    with HubServer(tmp_path / "hub") as server:
        config = {"benchmarks": {"figstep": {}}, "models": {"m": {"weights": "hf:org/tiny", "revision": REV}},
                  "mirrors": {"https://huggingface.co": server.endpoint}}
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
        work = tmp_path / "work"
        target = f"resources/hub/org/tiny/{REV}.manifest.json"
        snakemake("--cores", "1", "--configfile", str(tmp_path / "config.yaml"), "--directory", str(work), target,
                  cwd=REPO, env={"HF_ENDPOINT": "http://127.0.0.1:9"})  # the mirror wins over HF_ENDPOINT
    manifest = read_manifest(work / target)
    assert manifest["endpoint"] == server.endpoint and manifest["revision"] == REV
    assert (work / f"resources/hub/org/tiny/{REV}/model.safetensors").read_bytes() == \
        (source / "model.safetensors").read_bytes()
    log = (work / f"logs/download_model/org/tiny/{REV}.log").read_text()
    assert "files match the hub's checksums" in log
