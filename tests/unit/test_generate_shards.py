"""think_in_safety.models.shards: generation split into jobs (generation.shards) and merged back,
and the job sizes that follow the prompts table (resources.generation_resources)."""

import pandas as pd
import pytest
import yaml
from PIL import Image

from think_in_safety.config import validate_config
from think_in_safety.models import generate
from think_in_safety.models.shards import job_samples, merge_shards, shard_counts, shard_prompts
from think_in_safety.resources import (
    GENERATION_MAX_RUNTIME,
    generation_minutes,
    generation_overrun,
    generation_resources,
)
from think_in_safety.tables import RESPONSE_COLUMNS

from ..conftest import REPO

SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
GREEDY = {"max_new_tokens": 6, "temperature": 0.0}


@pytest.fixture()
def prompts(tmp_path):
    """Seven prompts, some sampled twice, with and without images."""
    image = tmp_path / "img.png"
    Image.new("RGB", (64, 64), "green").save(image)
    n = 7
    return pd.DataFrame(
        {
            "id": [f"demo/{k}" for k in range(n)],
            "benchmark": ["demo"] * n,
            "prompt": [f"Question number {k}?" for k in range(n)],
            "image_paths": [[str(image)] if k % 2 else [] for k in range(n)],
            "n_samples": [2 if k % 3 == 0 else 1 for k in range(n)],
        }
    )


def test_shards_take_rows_in_turn_and_cover_the_table(prompts):
    parts = [shard_prompts(prompts, k, 3) for k in range(3)]
    assert [part["id"].tolist() for part in parts] == [
        ["demo/0", "demo/3", "demo/6"], ["demo/1", "demo/4"], ["demo/2", "demo/5"]]
    assert shard_prompts(prompts, 0, 1).equals(prompts)
    with pytest.raises(ValueError, match="shards 0 to 2"):
        shard_prompts(prompts, 3, 3)


def test_sharded_run_merges_to_the_unsharded_table(tmp_path, tiny_model, prompts):
    """The tiny model, greedy, one prompt per call (no padding differences between the runs)."""
    def run(table, name):
        return generate.generate_responses(table, "tiny", tiny_model, "think_tags", GREEDY, tmp_path / name,
                                           batch_size=1, seed=3, log=lambda _: None)

    whole = run(prompts, "whole.parquet")
    shards = [run(shard_prompts(prompts, k, 3), f"shard-{k}.parquet") for k in range(3)]
    merged = merge_shards(prompts, [shards[2], shards[0], shards[1]])  # any order of shard tables
    assert list(merged.columns) == list(RESPONSE_COLUMNS) and len(merged) == prompts["n_samples"].sum()
    assert merged.dtypes.equals(whole.dtypes)
    pd.testing.assert_frame_equal(merged.drop(columns="seconds"), whole.drop(columns="seconds"))


def _rows(keys):
    output = generate.Output("text", 1, 1, True)
    return pd.DataFrame([
        generate.response_record(generate.Request(i, s, "", "x"), output, "m", "none", "{}", 0.1,
                                 type("Counter", (), {"count_tokens": staticmethod(lambda t: 1)}))
        for i, s in keys
    ])


def test_merge_refuses_shards_that_do_not_cover_the_table(prompts):
    keys = [(r.id, r.sample) for r in generate.expand_requests(prompts)]
    assert len(merge_shards(prompts, [_rows(keys[:4]), _rows(keys[4:])])) == len(keys)
    with pytest.raises(ValueError, match=r"missing: 1 .*--forcerun generate_shard"):
        merge_shards(prompts, [_rows(keys[:-1])])
    with pytest.raises(ValueError, match="duplicated: 1"):
        merge_shards(prompts, [_rows(keys), _rows(keys[:1])])
    with pytest.raises(ValueError, match="not in the prompts table: 1"):
        merge_shards(prompts, [_rows(keys + [("other/9", 0)])])


def test_job_samples_read_the_shard_of_the_prompts_table(tmp_path, prompts):
    path = tmp_path / "prompts.parquet"
    with pytest.raises(FileNotFoundError) as missing:  # before the table exists: Snakemake's <TBD>
        job_samples(path)
    assert missing.value.filename == str(path)
    prompts.to_parquet(path)
    assert job_samples(path) == 10
    assert [job_samples(path, k, 3) for k in range(3)] == [6, 2, 2]


def test_shard_counts_name_configured_benchmarks():
    demo = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config = validate_config({**demo, "generation": {"shards": {"siuo": 4, "figstep": 1}}}, SCHEMA)
    assert config["generation"]["chunk_size"] == 1024
    assert shard_counts(config) == {"siuo": 4}  # one shard is no split: the usual single job
    config["generation"]["shards"] = {"jailbreakv_full": 8}
    with pytest.raises(ValueError, match=r"generation.shards names \['jailbreakv_full'\].*remove the entry"):
        shard_counts(config)


def test_generation_runtime_grows_with_samples_and_budget():
    config = validate_config(yaml.safe_load((REPO / "config/paper.yaml").read_text()), SCHEMA)
    base = generation_resources(config, "r1-onevision-7b")
    assert base == {"mem_mb": 22528, "runtime": 130, "gpu": 1}  # no workload known: load + start only
    small, large = (generation_resources(config, "r1-onevision-7b", n)["runtime"] for n in (280, 2800))
    assert base["runtime"] < small < large < GENERATION_MAX_RUNTIME
    # 2800 samples x 2048 tokens at 20000 / 7 tokens/s (vLLM, 7 B, one GPU): 33.4 min on top
    assert large == 130 + 34
    # the transformers backend (Llama-3.2-Vision) is estimated slower per token
    assert generation_resources(config, "llava-cot-11b", 2800)["runtime"] - 170 > 4 * (large - 130)
    config["models"]["r1-onevision-7b"]["gpus"] = 2  # tensor parallelism: about twice the tokens/s
    assert generation_resources(config, "r1-onevision-7b", 2800)["runtime"] == 130 + 17
    config["models"]["r1-onevision-7b"]["decoding"] = {"max_new_tokens": 20480}
    assert generation_resources(config, "r1-onevision-7b", 28000)["runtime"] == GENERATION_MAX_RUNTIME


def test_a_job_estimated_past_the_runtime_cap_is_named_with_the_fix():
    config = validate_config(yaml.safe_load((REPO / "config/paper.yaml").read_text()), SCHEMA)
    # a 7B on vLLM over ~7,400 samples (the five benchmarks, one model's job): well under 24 h
    assert generation_overrun(config, "r1-onevision-7b", 7400, "generation r1-onevision-7b") is None
    # LLaVA-CoT (11 B on transformers, 2048 tokens each): ~21 h for the same, so a larger set is past it
    assert 20 * 60 < generation_minutes(config, "llava-cot-11b", 7400) < GENERATION_MAX_RUNTIME
    assert generation_overrun(config, "llava-cot-11b", 7400, "generation llava-cot-11b") is None
    warning = generation_overrun(config, "llava-cot-11b", 20000, "generation llava-cot-11b")
    assert warning.startswith("generation llava-cot-11b: 20000 samples of llava-cot-11b are estimated at ")
    assert "more than the 24 h the job asks for" in warning and "generation.shards" in warning
    assert generation_resources(config, "llava-cot-11b", 20000)["runtime"] == GENERATION_MAX_RUNTIME
