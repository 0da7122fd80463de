"""What every loader checks in a release before a prompt table exists: paths stay inside the
release, every image decodes, text files are UTF-8, no prompt or question is empty; and what the
table records of the files it read (think_in_safety.benchmarks.common)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from think_in_safety.benchmarks import REGISTRY, get_benchmark
from think_in_safety.benchmarks.common import LINKED_FROM, record_source, release_of

from .benchmark_files import write_image

NAMES = sorted(REGISTRY)


def demo(tmp_path: Path, name: str) -> Path:
    release = tmp_path / "release" / name
    get_benchmark(name).write_demo(release, seed=0)
    return release


def rewrite_csv(path: Path, change) -> None:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    change(rows)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def rewrite_json(path: Path, change) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, indent=4), encoding="utf-8")


# --------------------------------------------------------------------------------------------
# paths named by release files stay inside the release
# --------------------------------------------------------------------------------------------
def _set_image(name: str, release: Path, value: str) -> tuple[str, str]:
    """Make the first item of a demo release name ``value`` as its image; return (the release
    file, the row as the error names it)."""
    if name == "jailbreakv":
        rewrite_csv(release / "mini_JailBreakV_28K.csv", lambda rows: rows[0].update(image_path=value))
        return "mini_JailBreakV_28K.csv", "row id 0"
    if name == "siuo":
        rewrite_json(release / "data/siuo_gen.json", lambda items: items[0].update(image=value))
        return "siuo_gen.json", "item question_id 1001"
    if name == "mssbench":
        rewrite_json(release / "combined.json", lambda data: data["chat"][0].update(safe_image_path=value))
        return "combined.json", "chat item 0 (safe_image_path)"
    if name == "mm_safetybench":  # the record's key names its image files: <key>.jpg
        path = release / "data/processed_questions/01-Illegal_Activitiy.json"
        rewrite_json(path, lambda data: data.update({value: data.pop("0")}))
        return "01-Illegal_Activitiy.json", f"record {value!r}"
    raise AssertionError(name)


NAMED = ["jailbreakv", "siuo", "mssbench", "mm_safetybench"]  # FigStep builds its paths from integer ids


@pytest.mark.parametrize("name", NAMED)
def test_absolute_image_path_is_refused_naming_file_and_row(name, tmp_path):
    release = demo(tmp_path, name)
    file, row = _set_image(name, release, "/etc/passwd")
    with pytest.raises(ValueError, match="is absolute") as error:
        get_benchmark(name).load_prompts(release, {})
    assert file in str(error.value) and row in str(error.value) and "/etc/passwd" in str(error.value)


@pytest.mark.parametrize("name", NAMED)
def test_path_climbing_out_of_the_release_is_refused(name, tmp_path):
    release = demo(tmp_path, name)
    write_image(tmp_path / "outside.png")  # a real image: only the place is wrong
    file, row = _set_image(name, release, "../../../../outside.png")
    with pytest.raises(ValueError, match=r"climbs out of the release with '\.\.'") as error:
        get_benchmark(name).load_prompts(release, {"require_images": False})
    assert file in str(error.value) and row in str(error.value)


def test_mssbench_png_outside_the_release_is_not_used(tmp_path):
    release = demo(tmp_path, "mssbench")
    write_image(tmp_path / "release" / "elsewhere.png")
    _set_image("mssbench", release, "../../elsewhere.png")  # chat/../../elsewhere.png: beside the release
    with pytest.raises(ValueError, match="chat item 0"):
        get_benchmark("mssbench").load_prompts(release, {})


def test_symlink_out_of_the_release_is_refused(tmp_path):
    release = demo(tmp_path, "siuo")
    secret = write_image(tmp_path / "private/photo.png")
    image = release / "data/images/S-01.png"
    image.unlink()
    image.symlink_to(secret)
    with pytest.raises(ValueError, match="resolves through a symlink to .*private/photo.png, outside the release"):
        get_benchmark("siuo").load_prompts(release, {})


def test_symlinked_folder_out_of_the_release_is_refused(tmp_path):
    release = demo(tmp_path, "figstep")
    images = release / "data/images/SafeBench"
    shutil.move(images, tmp_path / "elsewhere")
    images.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(ValueError, match="row category_id 1, task_id 1 .* outside the release"):
        get_benchmark("figstep").load_prompts(release, {})


def test_symlinks_inside_the_release_are_fine(tmp_path):
    release = demo(tmp_path, "siuo")
    image = release / "data/images/S-01.png"
    shutil.move(image, release / "data/S-01.png")
    image.symlink_to(release / "data/S-01.png")
    assert len(get_benchmark("siuo").load_prompts(release, {})) == 18


def test_linked_fetch_may_resolve_into_the_folder_it_linked_from(tmp_path):
    spec = get_benchmark("siuo")
    mirror = demo(tmp_path, "siuo")
    dest = tmp_path / "linked"
    spec.fetch(str(mirror), dest, {"link": True})
    assert (dest / "data/images/S-01.png").is_symlink()
    assert json.loads((dest / LINKED_FROM).read_text()) == [str(mirror.resolve())]
    assert len(spec.load_prompts(dest, {})) == 18
    # the record admits the mirror, nothing else
    (dest / "data/images/S-01.png").unlink()
    (dest / "data/images/S-01.png").symlink_to(write_image(tmp_path / "private/x.png"))
    with pytest.raises(ValueError, match="outside the release"):
        spec.load_prompts(dest, {})


def test_copied_fetch_writes_no_link_record(tmp_path):
    mirror = demo(tmp_path, "mssbench")
    get_benchmark("mssbench").fetch(str(mirror), tmp_path / "copied", {})
    assert not (tmp_path / "copied" / LINKED_FROM).exists()


# --------------------------------------------------------------------------------------------
# every image is decoded once, at the prompts stage
# --------------------------------------------------------------------------------------------
def test_truncated_image_is_named_with_its_prompt(tmp_path):
    release = demo(tmp_path, "figstep")
    image = release / "data/images/SafeBench/query_ForbidQI_3_1_6.png"
    data = image.read_bytes()
    image.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or damaged") as error:
        get_benchmark("figstep").load_prompts(release, {})
    assert str(image) in str(error.value) and "prompt figstep/3_1" in str(error.value)


def test_image_over_the_pixel_limit_is_named(tmp_path):
    release = demo(tmp_path, "mssbench")
    image = release / "chat/3.jpg"
    Image.new("1", (20000, 20000)).save(image, format="PNG")  # 400 M pixels, a 50 kB file
    with pytest.raises(ValueError, match="has 400,000,000 pixels, more than Pillow's decompression-bomb "
                                         "limit of 89,478,485") as error:
        get_benchmark("mssbench").load_prompts(release, {})
    assert str(image) in str(error.value) and "prompt mssbench/chat/1/0/unsafe" in str(error.value)
    assert "downscale" in str(error.value)


def test_image_between_one_and_two_limits_is_refused_too(tmp_path, monkeypatch):
    # Pillow only warns between MAX_IMAGE_PIXELS and twice it; the check refuses from the limit on
    release = demo(tmp_path, "siuo")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 224 * 224 - 1)
    with pytest.raises(ValueError, match="is 224x224 = 50,176 pixels, more than .* limit of 50,175"):
        get_benchmark("siuo").load_prompts(release, {})


def test_unknown_image_format_is_named(tmp_path):
    release = demo(tmp_path, "jailbreakv")
    row = get_benchmark("jailbreakv").load_prompts(release, {}).iloc[3]
    image = Path(row["image_paths"][0])
    image.write_text("<html>not found</html>")  # what a failed download may leave behind
    with pytest.raises(ValueError, match="is not an image Pillow can read") as error:
        get_benchmark("jailbreakv").load_prompts(release, {})
    assert str(image) in str(error.value) and f"prompt {row['id']}" in str(error.value)


def test_images_present_are_checked_even_without_require_images(tmp_path):
    release = demo(tmp_path, "siuo")
    (release / "data/images/S-01.png").unlink()
    (release / "data/images/S-02.png").write_bytes(b"\x89PNG\r\n")
    with pytest.raises(ValueError, match="S-02.png"):
        get_benchmark("siuo").load_prompts(release, {"require_images": False})


# --------------------------------------------------------------------------------------------
# text files: UTF-8 or a named error; no empty prompt or question
# --------------------------------------------------------------------------------------------
def test_latin1_csv_is_named_with_the_fix(tmp_path):
    release = demo(tmp_path, "figstep")
    path = release / "data/question/safebench.csv"
    path.write_bytes(path.read_text(encoding="utf-8").replace("museum", "musée").replace(
        "movie", "café").encode("latin-1"))
    with pytest.raises(ValueError, match=r"is not UTF-8 text: byte 0xe9 on line \d+") as error:
        get_benchmark("figstep").load_prompts(release, {})
    assert str(path) in str(error.value) and "Re-save the file as UTF-8" in str(error.value)


def test_latin1_json_is_named_with_the_fix(tmp_path):
    release = demo(tmp_path, "siuo")
    path = release / "data/siuo_gen.json"
    path.write_bytes(path.read_text(encoding="utf-8").replace("bridge", "pont élevé").encode("latin-1"))
    with pytest.raises(ValueError, match="siuo_gen.json is not UTF-8 text.*Re-save the file as UTF-8"):
        get_benchmark("siuo").load_prompts(release, {})


def test_utf8_with_byte_order_mark_reads(tmp_path):
    release = demo(tmp_path, "jailbreakv")
    path = release / "mini_JailBreakV_28K.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert get_benchmark("jailbreakv").load_prompts(release, {})["id"].iloc[0] == "jailbreakv/0"


def test_empty_question_is_refused_with_the_row_id(tmp_path):
    release = demo(tmp_path, "siuo")
    rewrite_json(release / "data/siuo_gen.json", lambda items: items[2].update(question="  "))
    with pytest.raises(ValueError, match=r"siuo: 1 prompt\(s\) have an empty prompt .*siuo_gen.json.*: siuo/2001"):
        get_benchmark("siuo").load_prompts(release, {})


@pytest.mark.parametrize(("field", "column"), [("jailbreak_query", "prompt"), ("redteam_query", "question")])
def test_empty_jailbreakv_texts_are_refused(field, column, tmp_path):
    release = demo(tmp_path, "jailbreakv")
    rewrite_csv(release / "mini_JailBreakV_28K.csv", lambda rows: rows[1].update({field: ""}))
    with pytest.raises(ValueError, match=rf"have an empty {column} .*: jailbreakv/1\b"):
        get_benchmark("jailbreakv").load_prompts(release, {})


def test_empty_mssbench_query_is_refused(tmp_path):
    release = demo(tmp_path, "mssbench")  # the wrapper is not empty, the query is
    rewrite_json(release / "combined.json", lambda data: data["chat"][0]["queries"].__setitem__(1, ""))
    with pytest.raises(ValueError, match="empty question .*mssbench/chat/0/1/safe"):
        get_benchmark("mssbench").load_prompts(release, {})


# --------------------------------------------------------------------------------------------
# what the table records of the release it read
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_table_records_the_release_and_a_digest_of_what_it_read(name, tmp_path):
    spec = get_benchmark(name)
    release = demo(tmp_path, name)
    table = spec.load_prompts(release, {})
    record = release_of(table)
    images = {path for paths in table["image_paths"] for path in paths}
    # besides the images, the question files (one JSON per scenario for MM-SafetyBench)
    question_files = {"figstep": 1, "mm_safetybench": 13, "jailbreakv": 1, "siuo": 1, "mssbench": 1}
    assert record["benchmark"] == name and record["release_dir"] == str(release)
    assert record["files_read"] - len(images) == question_files.get(name, record["files_read"] - len(images)) >= 1
    # the same files elsewhere: the same digest; one changed byte in one image: another digest
    copy = tmp_path / "copy" / name
    shutil.copytree(release, copy)
    assert release_of(spec.load_prompts(copy, {}))["sha256"] == record["sha256"]
    changed = Path(sorted(images)[-1].replace(str(release), str(copy)))
    write_image(changed, (1, 2, 3))
    assert release_of(spec.load_prompts(copy, {}))["sha256"] != record["sha256"]


def test_release_record_survives_parquet_with_the_source(tmp_path):
    release = demo(tmp_path, "mssbench")
    table = record_source(get_benchmark("mssbench").load_prompts(release, {"limit": 1}), "demo")
    table.to_parquet(tmp_path / "mssbench.parquet", index=False)
    back = release_of(pd.read_parquet(tmp_path / "mssbench.parquet"))
    assert back == {**release_of(table), "source": "demo"}
    images = {path for paths in table["image_paths"] for path in paths}
    assert back["files_read"] == 1 + len(images)  # combined.json and the images of the rows kept


def test_table_without_a_record_says_none():
    assert release_of(pd.DataFrame({"id": ["a"]})) is None
    with pytest.raises(ValueError, match="no release record"):
        record_source(pd.DataFrame({"id": ["a"]}), "demo")


def test_fetched_release_reads_like_its_mirror(tmp_path):
    """A fetched copy records the same digest as the mirror it came from."""
    mirror = demo(tmp_path, "figstep")
    dest = tmp_path / "fetched"
    spec = get_benchmark("figstep")
    spec.fetch(str(mirror), dest, {})
    assert release_of(spec.load_prompts(dest, {}))["sha256"] == release_of(spec.load_prompts(mirror, {}))["sha256"]
