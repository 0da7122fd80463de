"""The in-process transformers judge on a tiny random-init Qwen2.5-VL built by the model zoo:
its replies are noise (mostly unparsed), but loading, chat templating, images, batching, the
cache and the audit columns are the real code paths."""

from __future__ import annotations

import pytest
from PIL import Image

from think_in_safety.judges import JudgeEndpointError, TransformersJudge, make_judge

from tests.judge_rows import figstep_tables, prompt_row, response_row, tables


def local_judge(model, cache, **options) -> TransformersJudge:
    return make_judge("local", {"backend": "transformers", "model": model, "max_new_tokens": 6, "batch_size": 2,
                                "device": "cpu", "cache": str(cache), "max_error_fraction": 0.0, **options})


def test_local_judge_runs_protocols_with_images_and_caches(tiny_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (40, 40), "green").save("scene.png")
    judge = local_judge(tiny_model, tmp_path / "cache.sqlite")
    prompts, responses = figstep_tables(3)
    judged = judge.judge(prompts, responses, "figstep")
    assert judged["status"].isin(["ok", "unparsed"]).all()  # never an error, never a silent verdict
    assert (judged["judge_calls"] == 1).all() and judge.stats.completed == 3
    assert judged["judge"].str.startswith("local:").all() and judged["judge"].str.endswith(":harm-judge-v1").all()
    assert judged["judge_output"].map(lambda reply: isinstance(reply, str)).all()  # the raw reply is kept
    assert (judged.loc[judged["status"] == "unparsed", "rationale"].str.contains("neither")).all()

    siuo_prompts, siuo_responses = tables(
        [prompt_row("siuo/1", "siuo", judge_rubric="siuo", image_paths=["scene.png"], safety_warning="w",
                    reference_answer="r")], [response_row("siuo/1", "Be careful.")])
    siuo = judge.judge(siuo_prompts, siuo_responses, "siuo")
    assert siuo.loc[0, "status"] in ("ok", "unparsed") and judge.stats.completed == 2  # safety + effectiveness

    def no_generation(batch):
        raise AssertionError("the model was called although every reply is cached")

    again = local_judge(tiny_model, tmp_path / "cache.sqlite")
    monkeypatch.setattr(again, "_generate", no_generation)
    rerun = again.judge(prompts, responses, "figstep")
    assert again.stats.cache_hits == 3 and rerun["cached"].all()
    assert rerun["judge_output"].tolist() == judged["judge_output"].tolist()


def test_missing_model_stops_the_run(tmp_path):
    prompts, responses = figstep_tables(1)
    with pytest.raises(JudgeEndpointError, match="cannot load the judge model"):
        local_judge(str(tmp_path / "no-such-model"), tmp_path / "cache.sqlite").judge(prompts, responses, "figstep")
