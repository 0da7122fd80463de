"""Sharded generation as a user runs it: generation.shards splits one benchmark into jobs of the
real workflow, merge_response_shards joins them, and the result is the unsharded table. A local
tiny random model (no hub, no tuning), the demo SIUO release, CPU."""

import re

import pandas as pd
import pytest
import yaml

from think_in_safety.config import validate_config
from think_in_safety.models import chat_data, generate, zoo
from think_in_safety.models.shards import job_samples
from think_in_safety.resources import generation_resources

from .conftest import REPO
from .test_workflow import job_counts, snakemake

DECODING = {"temperature": 0.0, "max_new_tokens": 8}


def test_demo_plan_has_one_generate_job_per_model():
    counts = job_counts(snakemake("-n", "--quiet", "rules"))
    assert counts["generate"] == 8  # four demo models and their four tuned versions, five benchmarks each
    assert "generate_shard" not in counts and "merge_response_shards" not in counts


@pytest.mark.e2e
def test_sharded_benchmark_merges_to_the_unsharded_table(tmp_path, monkeypatch):
    zoo.build_tokenizer(chat_data.tokenizer_corpus(40, seed=0), tmp_path / "tok", vocab_size=512)
    zoo.build_tiny_model(tmp_path / "tok", tmp_path / "model", seed=0)
    config = {
        "seed": 0,
        "benchmarks": {"siuo": {"options": {"limit": 1}}, "figstep": {"options": {"limit": 1}}},
        "generation": {"batch_size": 1, "shards": {"siuo": 3}, "decoding": DECODING},
        "models": {"tiny": {"weights": str(tmp_path / "model"), "thought_format": "none"}},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    work = tmp_path / "work"
    output = snakemake("--cores", "2", "results/responses/tiny/siuo.parquet", "--configfile",
                       str(tmp_path / "config.yaml"), "--directory", str(work))
    assert job_counts(output) == {"write_demo_benchmark": 1, "prompts": 1, "generate_shard": 3,
                                  "merge_response_shards": 1, "total": 6}

    # each shard job asked for the time its own samples need, read from the prompts table
    prompts_path = work / "results/prompts/siuo.parquet"
    checked = validate_config(config, REPO / "workflow/schemas/config.schema.yaml")
    for shard in range(3):
        block = re.search(rf"output: results/responses/tiny/siuo/shard-{shard}\.parquet\n(?:    .*\n)*?"
                          r"    resources: (.*)\n", output)
        runtime = int(re.search(r"runtime=(\d+)", block.group(1)).group(1))
        expected = generation_resources(checked, "tiny", job_samples(prompts_path, shard, 3))["runtime"]
        assert runtime == expected > 60, (shard, block.group(1))
        assert (work / f"results/responses/tiny/siuo/shard-{shard}.parquet").exists()

    monkeypatch.chdir(work)  # image paths are relative to the workflow's directory
    prompts = pd.read_parquet(prompts_path)
    whole = generate.generate_responses(prompts, "tiny", str(tmp_path / "model"), "none", DECODING,
                                        tmp_path / "whole.parquet", batch_size=1, seed=0, log=lambda _: None)
    merged = pd.read_parquet(work / "results/responses/tiny/siuo.parquet")
    assert len(merged) == prompts["n_samples"].sum() > 3
    pd.testing.assert_frame_equal(merged.drop(columns="seconds"), whole.drop(columns="seconds"))

    # an unsharded benchmark of the same config is in the model's one generate job
    planned = job_counts(snakemake("-n", "results/responses/tiny/figstep.parquet", "--quiet", "rules",
                                   "--configfile", str(tmp_path / "config.yaml"), "--directory", str(work)))
    assert planned["generate"] == 1 and "generate_shard" not in planned
