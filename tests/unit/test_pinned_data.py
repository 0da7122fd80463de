"""Pinned data: the data lock, mirrors, and the refusal of a missing image archive.

The remote hosts (raw GitHub, the Hugging Face hub, Google Drive) are stood in for by
tests/servers/data_host.py, a loopback HTTP server on 127.0.0.1 that serves the study's sources
from a directory tree in their pinned URL layout; no test touches the network. The workflow's own
download code (BenchmarkSpec.fetch / TrainingSetFormat.fetch -> think_in_safety.download) reaches
it only through the ``mirrors`` rewrite, as the study's rehearsal does.
"""

from __future__ import annotations

import copy
import json
import multiprocessing
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from think_in_safety import download
from think_in_safety.benchmarks import REGISTRY, get_benchmark
from think_in_safety.benchmarks.mm_safetybench import SCENARIOS
from think_in_safety.config import ConfigError, validate_config
from think_in_safety.report import collect_provenance
from think_in_safety.training_sets import get_format

from ..conftest import REPO
from ..servers.data_host import DRIVE_HOST, DataHost, populate, url_path

SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
FAST = {"backoff": 0.0, "timeout": 10.0, "retries": 1}


def paper() -> dict:
    return yaml.safe_load((REPO / "config/paper.yaml").read_text())


def demo() -> dict:
    return yaml.safe_load((REPO / "config/config.yaml").read_text())


def only(config: dict, benchmarks=(), training_sets=()) -> dict:
    """``config`` with just the named benchmarks and training sets (populate writes those)."""
    config = copy.deepcopy(config)
    config["benchmarks"] = {k: v for k, v in config["benchmarks"].items() if k in benchmarks}
    config["training_sets"] = {k: v for k, v in config["training_sets"].items() if k in training_sets}
    config["sft"]["training_sets"] = [s for s in config["sft"]["training_sets"] if s in training_sets]
    config["tis"]["sources"] = []
    return config


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------------------------
# the data lock, end to end through the data host
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mm_host(tmp_path_factory):
    """MM-SafetyBench of paper.yaml on the data host: questions under the pinned raw GitHub
    commit, images as a zip behind the Google Drive link, a stand-in of its official evaluation.py
    (the project's own sentences) at the official texts' pinned path."""
    root = tmp_path_factory.mktemp("hosts")
    counts = populate(root, only(paper(), benchmarks=["mm_safetybench"], training_sets=[]))
    assert counts == {"benchmarks.mm_safetybench": 15}  # 13 question files, the image zip, evaluation.py
    with DataHost(root) as host:
        yield host


def _fetch_mm(host: DataHost, dest: Path, lock: Path) -> None:
    entry = paper()["benchmarks"]["mm_safetybench"]
    with download.configured(lock_file=lock, mirrors=host.mirrors()):
        get_benchmark("mm_safetybench").fetch(entry["source"], dest, {**entry["options"], **FAST})


def test_download_through_mirror_writes_the_lock(mm_host, tmp_path):
    entry = paper()["benchmarks"]["mm_safetybench"]
    lock = tmp_path / "config/data.lock.json"
    _fetch_mm(mm_host, tmp_path / "release", lock)

    table = get_benchmark("mm_safetybench").load_prompts(tmp_path / "release", {})
    assert len(table) == 13 * 3  # one question per scenario x SD, TYPO, SD_TYPO, images present
    files = download.read_lock(lock)
    question = f"{entry['source']}/data/processed_questions/01-Illegal_Activitiy.json"
    texts = entry["options"]["official_texts"]
    assert set(files) == {entry["options"]["images_url"], f"{texts['source']}/evaluation.py"} | {
        f"{entry['source']}/data/processed_questions/{scenario}.json" for scenario in SCENARIOS}
    served = url_path(mm_host.root, question)
    assert files[question] == {"size": served.stat().st_size, "sha256": download.sha256_file(served)}
    archive = url_path(mm_host.root, entry["options"]["images_url"])
    assert files[entry["options"]["images_url"]]["sha256"] == download.sha256_file(archive)
    assert not list(lock.parent.glob(".data.lock.json.*"))  # no temporary file left behind

    # Drive's page names the real host; the client reached the bytes only through the mirror
    drive = [urlparse(path) for _, path, _ in mm_host.requests if path.startswith(f"/{DRIVE_HOST}/")]
    assert [bool(parse_qs(u.query).get("confirm")) for u in drive[-2:]] == [False, True]


def test_second_fetch_passes_and_leaves_the_lock_as_it_was(mm_host, tmp_path):
    lock = tmp_path / "data.lock.json"
    _fetch_mm(mm_host, tmp_path / "first", lock)
    before = lock.read_bytes()
    _fetch_mm(mm_host, tmp_path / "second", lock)
    assert lock.read_bytes() == before
    assert files_of(tmp_path / "first") == files_of(tmp_path / "second")


def test_tampered_file_is_refused_with_both_digests_and_the_fix(mm_host, tmp_path):
    entry = paper()["benchmarks"]["mm_safetybench"]
    lock = tmp_path / "data.lock.json"
    _fetch_mm(mm_host, tmp_path / "first", lock)
    question = f"{entry['source']}/data/processed_questions/06-Fraud.json"
    served = url_path(mm_host.root, question)
    original = served.read_bytes()
    recorded = download.read_lock(lock)[question]["sha256"]
    try:
        served.write_bytes(original.replace(b"fake reviews", b"fake ratings"))
        with pytest.raises(download.DataLockError) as error:
            _fetch_mm(mm_host, tmp_path / "second", lock)
        message = str(error.value)
        assert question in message and str(lock) in message
        assert recorded in message and download.sha256_file(served) in message
        assert "delete the entry" in message and "pin the source" in message
        assert not (tmp_path / "second/data/processed_questions/06-Fraud.json").exists()
        assert not (tmp_path / "second/data/processed_questions/06-Fraud.json.part").exists()
        assert download.read_lock(lock)[question]["sha256"] == recorded  # the lock is not rewritten
    finally:
        served.write_bytes(original)


def test_a_tampered_image_archive_behind_a_drive_link_is_refused(mm_host, tmp_path):
    entry = paper()["benchmarks"]["mm_safetybench"]
    lock = tmp_path / "data.lock.json"
    link = entry["options"]["images_url"]
    lock.write_text(json.dumps({"version": 1, "files": {link: {"size": 1, "sha256": "0" * 64}}}))
    with pytest.raises(download.DataLockError, match="0{64}") as error:
        _fetch_mm(mm_host, tmp_path / "release", lock)
    assert link in str(error.value)  # keyed by the share link as configured, not the mirror URL
    assert not list((tmp_path / "release/imgs").glob("*/SD/0.jpg"))


def _record_many(lock: str, worker: int) -> None:
    for index in range(15):
        path = Path(lock).parent / f"w{worker}-{index}.bin"
        path.write_bytes(f"{worker}:{index}".encode())
        download.check_data_lock(f"https://example.org/{worker}/{index}", path, lock_file=lock)


def test_concurrent_jobs_share_one_lock_file(tmp_path):
    lock = tmp_path / "data.lock.json"
    context = multiprocessing.get_context("fork")  # separate processes, as Snakemake's jobs are
    workers = [context.Process(target=_record_many, args=(str(lock), n)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    files = download.read_lock(lock)
    assert len(files) == 4 * 15  # no job's entries lost to another's rewrite
    assert files["https://example.org/2/7"]["sha256"] == download.sha256_file(tmp_path / "w2-7.bin")


def test_without_a_lock_file_nothing_is_recorded(tmp_path):
    path = tmp_path / "file.bin"
    path.write_bytes(b"x")
    assert download.check_data_lock("https://example.org/f", path) is None
    with download.configured(lock_file=None):
        assert download.check_data_lock("https://example.org/f", path) is None
    assert not list(tmp_path.glob("*.json"))


def test_a_broken_lock_file_is_a_clear_error(tmp_path):
    lock = tmp_path / "data.lock.json"
    lock.write_text("{not json")
    with pytest.raises(download.DownloadError, match="is not a lock file.*delete it"):
        download.read_lock(lock)


# --------------------------------------------------------------------------------------------
# every source of paper.yaml through the data host
# --------------------------------------------------------------------------------------------
def test_every_paper_source_downloads_through_the_host(tmp_path):
    config = validate_config(paper(), SCHEMA)  # every entry with its options filled in
    counts = populate(tmp_path / "hosts", config)
    assert set(counts) == {f"benchmarks.{name}" for name in config["benchmarks"]} | {
        f"training_sets.{name}" for name, entry in config["training_sets"].items()
        if entry["format"] != "tis_assembly"}
    lock = tmp_path / "data.lock.json"
    with DataHost(tmp_path / "hosts") as host, download.configured(lock_file=lock, mirrors=host.mirrors()):
        for name, entry in config["benchmarks"].items():
            release = tmp_path / "benchmarks" / name
            REGISTRY[name].fetch(entry["source"], release, {**entry["options"], **FAST})
            assert len(REGISTRY[name].load_prompts(release, entry["options"])) > 0, name
        for name, entry in config["training_sets"].items():
            if entry["format"] == "tis_assembly":
                continue
            release = tmp_path / "training_sets" / name
            fmt = get_format(entry["format"])
            fmt.fetch(entry["source"], release, entry["options"])
            report = fmt.convert(release, tmp_path / "sft" / name, name, entry["options"])
            assert report.written > 0 and not report.dropped, (name, report.as_dict()["dropped"][:3])
    pinned = [url for url in download.read_lock(lock) if "/main/" not in url]
    assert len(pinned) > 0.9 * len(download.read_lock(lock))  # all but VLGuard and the TiS images
    # the report's provenance names each source's pin and the lock file's digest
    config["downloads"]["lock_file"] = str(lock)
    provenance = collect_provenance(config)
    pins = provenance["data sources (pinned revisions)"]
    assert pins["benchmarks.figstep.source"]["revision"] == "0861b17b3d67887c06ee3534ec65b3012f9becb7"
    assert pins["training_sets.vlguard.source"]["revision"] == "unpinned (main)"
    assert provenance["data lock file"]["sha256"] == download.sha256_file(lock)


def test_populate_is_reproducible_byte_for_byte(tmp_path):
    """A rehearsal repopulates its host: the same config must give the same bytes, or the data
    lock of the previous run would refuse them."""
    config = only(paper(), benchmarks=["siuo", "figstep"], training_sets=["tis", "spa_vl"])
    before = copy.deepcopy(config)
    populate(tmp_path / "a", config)
    populate(tmp_path / "b", config)
    assert config == before  # the caller's config is not filled with defaults
    first, second = files_of(tmp_path / "a"), files_of(tmp_path / "b")
    assert first == second
    assert "drive.usercontent.google.com/files/1U9CNRyMVlFRxMd8rT24SOQhK5G87-E2B" in first
    assert "huggingface.co/datasets/Holly301/Think-in-Safety/resolve/main/images.zip" in first
    spa = "huggingface.co/datasets/sqrti/SPA-VL/resolve/a06c4cd430153777f56e6ced9cbd723ea9587512"
    assert sorted(k for k in first if k.startswith(spa) and k.endswith(".parquet")) == [
        f"{spa}/{name}" for name in paper()["training_sets"]["spa_vl"]["options"]["files"]]
    assert not any(k.endswith("demo_captions.json") for k in first)  # not part of any upstream release
    siuo = "raw.githubusercontent.com/sinwang20/SIUO/f992c275ac49042a82833b99c2fca3f538c894b2"
    assert sorted(k for k in first if k.startswith(siuo)) == [f"{siuo}/data/siuo_gen.json"]  # images: the zip only


# --------------------------------------------------------------------------------------------
# images_url refused at validation where the benchmark needs it
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["mm_safetybench", "siuo"])
def test_null_images_url_is_refused_where_the_images_ship_apart(name):
    config = paper()
    config["benchmarks"][name]["options"]["images_url"] = None
    with pytest.raises(ConfigError) as error:
        validate_config(config, SCHEMA)
    message = str(error.value)
    assert f"benchmarks.{name}.options.images_url" in message
    assert REGISTRY[name].needs_images_url in message and "drive.google.com" in message
    assert "local path" in message


def test_registry_names_the_benchmarks_that_need_an_archive():
    assert {name for name, spec in REGISTRY.items() if spec.needs_images_url} == {"mm_safetybench", "siuo"}


@pytest.mark.parametrize("options", [{"skip_images": True}, {"images_source": "https://example.org/imgs"}])
def test_siuo_alternatives_to_images_url_are_accepted(options):
    config = paper()
    config["benchmarks"]["siuo"]["options"] = options
    validate_config(config, SCHEMA)


@pytest.mark.parametrize("source", ["demo", "local_copy"])
def test_demo_and_local_sources_need_no_images_url(source, tmp_path):
    if source == "local_copy":  # a local source must exist (the config check refuses a missing folder)
        source = str(tmp_path / "local_copy")
        Path(source).mkdir()
    config = demo()
    assert "images_url" not in json.dumps(config["benchmarks"])  # the demo names no archive
    config["benchmarks"]["mm_safetybench"] = {"source": source}
    config["benchmarks"]["siuo"] = {"source": source}
    validate_config(config, SCHEMA)


def test_benchmarks_with_images_in_their_source_need_no_images_url():
    config = paper()
    for name in ("figstep", "jailbreakv", "mssbench"):
        assert "images_url" not in config["benchmarks"][name].get("options", {})
    validate_config(config, SCHEMA)


# --------------------------------------------------------------------------------------------
# the mirror rewrite
# --------------------------------------------------------------------------------------------
MIRRORS = {
    "https://huggingface.co": "http://127.0.0.1:8800/huggingface.co",
    "https://huggingface.co/datasets/ys-zong": "https://vlguard.mirror.example/",
    "https://drive.usercontent.google.com": "http://127.0.0.1:8800/drive.usercontent.google.com",
}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://huggingface.co/datasets/kzhou35/mssbench/resolve/abc/combined.json",
         "http://127.0.0.1:8800/huggingface.co/datasets/kzhou35/mssbench/resolve/abc/combined.json"),
        # the longest matching prefix wins; a trailing '/' of the replacement is dropped
        ("https://huggingface.co/datasets/ys-zong/VLGuard/resolve/main/train.json",
         "https://vlguard.mirror.example/VLGuard/resolve/main/train.json"),
        # a prefix matches only at a boundary of the URL
        ("https://huggingface.com/datasets/x", "https://huggingface.com/datasets/x"),
        ("https://huggingface.co/datasets/ys-zongX/y", "http://127.0.0.1:8800/huggingface.co/datasets/ys-zongX/y"),
        ("https://drive.usercontent.google.com/download?id=F&export=download",
         "http://127.0.0.1:8800/drive.usercontent.google.com/download?id=F&export=download"),
        ("https://huggingface.co", "http://127.0.0.1:8800/huggingface.co"),
        # no mirror for the host: unchanged
        ("https://raw.githubusercontent.com/o/r/c/f.csv", "https://raw.githubusercontent.com/o/r/c/f.csv"),
    ],
)
def test_mirror_url(url, expected):
    assert download.mirror_url(url, MIRRORS) == expected


def test_mirrors_apply_only_inside_configured():
    url = "https://huggingface.co/datasets/a/b/resolve/c/f"
    with download.configured(mirrors=MIRRORS):
        assert download.mirror_url(url).startswith("http://127.0.0.1:8800/")
    assert download.mirror_url(url) == url


@pytest.mark.parametrize("bad", [{"https://huggingface.co/": "http://x"}, {"huggingface.co": "http://x"},
                                 {"https://huggingface.co": "ftp://x"}])
def test_bad_mirrors_are_refused_in_config_and_code(bad):
    config = demo()
    config["mirrors"] = bad
    with pytest.raises(ConfigError, match="mirrors"):
        validate_config(config, SCHEMA)
    with pytest.raises(download.DownloadError, match="mirrors"), download.configured(mirrors=bad):
        pass


def test_demo_config_sets_the_lock_and_no_mirrors():
    config = validate_config(demo(), SCHEMA)
    assert config["downloads"] == {"lock_file": "config/data.lock.json"}
    assert config["mirrors"] == {}
    assert all(b["source"] == "demo" for b in config["benchmarks"].values())  # nothing downloads
