"""Registry and demo round trips of every registered benchmark (write_demo -> load_prompts).

The round trips run over the registry, so a new benchmark is covered without an edit here; the
facts pinned below (names, families, metrics, demo sizes) are those of the study's five."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from PIL import Image

from think_in_safety.benchmarks import REGISTRY, get_benchmark
from think_in_safety.benchmarks.spec import FAMILIES
from think_in_safety.tables import PROMPT_COLUMNS, check_columns

NAMES = list(REGISTRY)
STUDY = ["figstep", "mm_safetybench", "jailbreakv", "siuo", "mssbench"]
EXPECTED_DEMO_ROWS = {"figstep": 20, "mm_safetybench": 39, "jailbreakv": 32, "siuo": 18,
                      "mssbench": 54}


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory) -> Path:
    """Every demo release, written once for this module (seed 0)."""
    root = tmp_path_factory.mktemp("demo")
    for name in NAMES:
        get_benchmark(name).write_demo(root / name, seed=0)
    return root


def test_registry_names_families_metrics():
    assert [name for name in REGISTRY if name in STUDY] == STUDY
    # tables follow the registry's order: jailbreak benchmarks first
    ranks = [FAMILIES.index(spec.family) for spec in REGISTRY.values()]
    assert ranks == sorted(ranks)
    families = {name: spec.family for name, spec in REGISTRY.items() if name in STUDY}
    assert families == {"figstep": "jailbreak", "mm_safetybench": "jailbreak",
                        "jailbreakv": "jailbreak", "siuo": "awareness", "mssbench": "awareness"}
    metrics = {name: (spec.metric.name, spec.metric.higher_is_safer) for name, spec in REGISTRY.items()
               if name in STUDY}
    assert metrics == {"figstep": ("asr", False), "mm_safetybench": ("asr", False), "jailbreakv": ("asr", False),
                       "siuo": ("safe_rate", True), "mssbench": ("accuracy", True)}
    for spec in REGISTRY.values():
        assert spec.default_source.startswith("https://")


def test_unknown_benchmark_lists_valid_names():
    with pytest.raises(ValueError, match="valid names") as error:
        get_benchmark("figstop")
    assert "figstep" in str(error.value) and "mssbench" in str(error.value)


@pytest.mark.parametrize("name", NAMES)
def test_demo_round_trip(name, demo_root):
    table = get_benchmark(name).load_prompts(demo_root / name, {})
    assert list(check_columns(table, PROMPT_COLUMNS, name).columns) == list(PROMPT_COLUMNS)
    assert len(table) == EXPECTED_DEMO_ROWS.get(name, len(table)) > 0
    assert table["id"].is_unique
    assert (table["benchmark"] == name).all()
    assert table["prompt"].str.len().gt(0).all() and table["question"].str.len().gt(0).all()
    for paths in table["image_paths"]:
        assert len(paths) == 1
        with Image.open(paths[0]) as image:
            image.verify()


def test_demo_total_is_small(demo_root):
    total = sum(len(get_benchmark(name).load_prompts(demo_root / name, {})) for name in STUDY)
    assert 150 <= total <= 200


@pytest.mark.parametrize("name", NAMES)
def test_demo_is_deterministic(name, tmp_path):
    def digest(root: Path) -> dict[str, str]:
        return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file()}

    get_benchmark(name).write_demo(tmp_path / "a", seed=3)
    get_benchmark(name).write_demo(tmp_path / "b", seed=3)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")


@pytest.mark.parametrize("name", NAMES)
def test_relative_release_dir_is_kept(name, demo_root, monkeypatch):
    monkeypatch.chdir(demo_root)
    table = get_benchmark(name).load_prompts(Path(name), {"limit": 1})
    for paths in table["image_paths"]:
        assert all(path.startswith(f"{name}/") for path in paths)


@pytest.mark.parametrize("name", NAMES)
def test_limit_keeps_at_most_n_per_category(name, demo_root):
    full = get_benchmark(name).load_prompts(demo_root / name, {})
    limited = get_benchmark(name).load_prompts(demo_root / name, {"limit": 1})
    assert 0 < len(limited) <= len(full)
    if name != "mm_safetybench":  # its demo has one question per scenario already
        assert len(limited) < len(full)
    assert set(limited["category"]) == set(full["category"])
    again = get_benchmark(name).load_prompts(demo_root / name, {"limit": 1})
    assert limited["id"].tolist() == again["id"].tolist()


@pytest.mark.parametrize("name", NAMES)
def test_missing_release_names_the_file(name, tmp_path):
    with pytest.raises(ValueError, match=str(tmp_path)):
        get_benchmark(name).load_prompts(tmp_path, {})


@pytest.mark.parametrize("name", NAMES)
def test_missing_images_are_reported(name, tmp_path):
    spec = get_benchmark(name)
    spec.write_demo(tmp_path, seed=0)
    table = spec.load_prompts(tmp_path, {})
    Path(table["image_paths"].iloc[0][0]).unlink()
    with pytest.raises(ValueError, match="images are missing"):
        spec.load_prompts(tmp_path, {})
    assert len(spec.load_prompts(tmp_path, {"require_images": False})) == len(table)


def test_bad_limit_is_rejected(demo_root):
    with pytest.raises(ValueError, match="limit"):
        get_benchmark("figstep").load_prompts(demo_root / "figstep", {"limit": 0})
