"""think_in_safety.models.generate: response records, batching/seeding, checkpoint resume."""

import json

import pandas as pd
import pytest
from PIL import Image

from think_in_safety.models import generate
from think_in_safety.tables import RESPONSE_COLUMNS


@pytest.fixture()
def prompts(tmp_path):
    """Three prompts: one sampled three times, one with a system prompt, one text-only."""
    paths = []
    for index, colour in enumerate(["red", "blue"]):
        path = tmp_path / f"img{index}.png"
        Image.new("RGB", (80 + 40 * index, 96), colour).save(path)
        paths.append(str(path))
    return pd.DataFrame(
        {
            "id": ["demo/a", "demo/b", "demo/c"],
            "benchmark": ["demo"] * 3,
            "prompt": ["What colour is this?", "Describe the image.", "Give three tips for sleeping better."],
            "image_paths": [[paths[0]], [paths[1]], []],
            "system_prompt": ["", "Answer briefly.", ""],
            "n_samples": [3, 1, 1],
        }
    )


KEYS = [("demo/a", 0), ("demo/a", 1), ("demo/a", 2), ("demo/b", 0), ("demo/c", 0)]
DECODING = {"max_new_tokens": 6, "temperature": 0.8, "top_p": 0.9}


def _keys(frame):
    return list(zip(frame["id"], frame["sample"]))


def keyed_shard(records, requests, keys, draw_seed=None):
    """Checkpoint rows as an earlier run with ``keys`` (generate.SampleKeys) writes them."""
    return pd.DataFrame([{**record, "run_key": keys.run_key, "sample_key": keys.of(request, draw_seed)}
                         for record, request in zip(records, requests)])


def test_generate_writes_response_contract(tmp_path, tiny_model, prompts):
    out_path = tmp_path / "responses" / "tiny.parquet"
    frame = generate.generate_responses(
        prompts, "tiny", tiny_model, "think_tags", DECODING, out_path, batch_size=2, seed=1, log=lambda _: None
    )
    assert list(frame.columns) == list(RESPONSE_COLUMNS)
    assert _keys(frame) == KEYS
    assert frame.equals(pd.read_parquet(out_path))
    assert not out_path.with_suffix(".partial").exists()
    assert (frame["model"] == "tiny").all()
    assert frame["generated_tokens"].between(1, 6).all()
    assert frame["finished"].dtype == bool and frame["has_thought"].dtype == bool
    assert (frame.loc[~frame["finished"], "generated_tokens"] == 6).all()
    by_id = frame.drop_duplicates("id").set_index("id")["prompt_tokens"]
    assert by_id["demo/a"] > by_id["demo/c"] and by_id["demo/b"] > by_id["demo/c"]  # image tokens counted
    assert json.loads(frame["decoding"][0]) == {**DECODING, "do_sample": True}
    assert (frame["seconds"] > 0).all()
    for row in frame.itertuples():
        assert "<|im_end|>" not in row.raw and "<|endoftext|>" not in row.raw


def test_generation_is_seeded(tmp_path, tiny_model, prompts):
    runs = [
        generate.generate_responses(
            prompts,
            "tiny",
            tiny_model,
            "none",
            DECODING,
            tmp_path / f"{name}.parquet",
            batch_size=2,
            seed=seed,
            log=lambda _: None,
        )["raw"].tolist()
        for name, seed in (("one", 4), ("two", 4))
    ]
    assert runs[0] == runs[1]


def test_resume_keeps_checkpoint_rows(tmp_path, tiny_model, prompts):
    out_path = tmp_path / "tiny.parquet"
    checkpoint = tmp_path / "ckpt"
    marker = generate.Output(
        text="<think>MARKER thought</think>MARKER", prompt_tokens=1, generated_tokens=1, finished=True
    )
    requests = {(r.id, r.sample): (index // 2, r) for index, r in enumerate(generate.expand_requests(prompts))}
    backend = generate.TransformersBackend(tiny_model, DECODING)
    calls = []

    class Counting:
        def generate(self, batch, seed):
            calls.extend((r.id, r.sample) for r in batch)
            return backend.generate(batch, seed)

        def count_tokens(self, text):
            return backend.count_tokens(text)

    keys = generate.SampleKeys(generate.run_settings("tiny", tiny_model, "think_tags", DECODING, 0, Counting()))
    checkpoint.mkdir()
    for key in [("demo/a", 1), ("demo/c", 0)]:  # chunks of 2: the seed of chunk b is 0 + b
        chunk, request = requests[key]
        record = generate.response_record(request, marker, "tiny", "think_tags", "{}", 0.5, backend)
        keyed_shard([record], [request], keys, draw_seed=chunk).to_parquet(checkpoint / f"shard-{chunk:06d}.parquet")

    frame = generate.generate_responses(
        prompts,
        "tiny",
        tiny_model,
        "think_tags",
        DECODING,
        out_path,
        batch_size=2,
        checkpoint_dir=checkpoint,
        log=lambda _: None,
        backend=Counting(),
    )
    assert sorted(calls) == [("demo/a", 0), ("demo/a", 2), ("demo/b", 0)]
    assert _keys(frame) == KEYS
    kept = frame.set_index(["id", "sample"])
    for key in [("demo/a", 1), ("demo/c", 0)]:
        assert kept.loc[key, "raw"] == marker.text
        assert (kept.loc[key, "thought"], kept.loc[key, "answer"]) == ("MARKER thought", "MARKER")
    assert not kept.loc[("demo/a", 0), "raw"].startswith("<think>MARKER")
    assert not checkpoint.exists()


class FakeBackend:
    """Echoes the request in the think_tags format; can fail on a chosen call."""

    def __init__(self, fail_on_call=None):
        self.seeds, self.fail_on_call = [], fail_on_call

    def generate(self, batch, seed):
        self.seeds.append(seed)
        if len(self.seeds) == self.fail_on_call:
            raise RuntimeError("device lost")
        return [generate.Output(f"<think>t {r.id}</think>a {r.sample}", 3, 4, True) for r in batch]

    def count_tokens(self, text):
        return len(text.split())


def test_interrupted_run_resumes_with_same_batch_seeds(tmp_path, prompts):
    out_path = tmp_path / "fake.parquet"
    failing = FakeBackend(fail_on_call=2)
    with pytest.raises(RuntimeError, match="device lost"):
        generate.generate_responses(
            prompts,
            "fake",
            "unused",
            "think_tags",
            {},
            out_path,
            batch_size=2,
            seed=10,
            log=lambda _: None,
            backend=failing,
        )
    assert failing.seeds == [10, 11] and not out_path.exists()
    (shard,) = out_path.with_suffix(".partial").glob("shard-000000-*.parquet")
    assert len(pd.read_parquet(shard)) == 2

    resumed = FakeBackend()
    frame = generate.generate_responses(
        prompts,
        "fake",
        "unused",
        "think_tags",
        {},
        out_path,
        batch_size=2,
        seed=10,
        log=lambda _: None,
        backend=resumed,
    )
    assert resumed.seeds == [11, 12]  # batch 0 came from the checkpoint; batches keep their seeds
    assert _keys(frame) == KEYS
    assert frame["thought"].tolist() == ["t demo/a"] * 3 + ["t demo/b", "t demo/c"]
    assert frame["answer"].tolist() == ["a 0", "a 1", "a 2", "a 0", "a 0"]
    assert frame["thought_tokens"].tolist() == [2] * 5 and frame["has_thought"].all()
    assert json.loads(frame["decoding"][0]) == {**generate.DECODING_DEFAULTS, "do_sample": False}


def test_rows_kept_across_two_interruptions(tmp_path, prompts):
    """A batch finished on resume is a new shard: the rows an earlier run kept stay on disk."""
    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    first = generate.expand_requests(prompts)[0]
    marker = generate.response_record(first, generate.Output("MARKER", 1, 1, True), "fake", "none", "{}", 0.1,
                                      FakeBackend())
    keys = generate.SampleKeys(generate.run_settings("fake", "unused", "none", {}, 0, FakeBackend()))
    keyed_shard([marker], [first], keys).to_parquet(checkpoint / "shard-000000.parquet")
    run = dict(
        prompts=prompts,
        model_name="fake",
        model_path="unused",
        thought_format="none",
        decoding={},
        out_path=tmp_path / "o.parquet",
        batch_size=2,
        checkpoint_dir=checkpoint,
        log=lambda _: None,
    )
    with pytest.raises(RuntimeError):
        generate.generate_responses(**run, backend=FakeBackend(fail_on_call=2))
    assert len(list(checkpoint.glob("shard-*.parquet"))) == 2
    frame = generate.generate_responses(**run, backend=FakeBackend())
    assert frame.set_index(["id", "sample"]).loc[("demo/a", 0), "raw"] == "MARKER"
    assert _keys(frame) == KEYS


def test_checkpoint_rows_of_another_model_are_ignored(tmp_path, prompts):
    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    other = generate.response_record(
        generate.Request("demo/a", 0, "", "x"),
        generate.Output("OTHER", 1, 1, True),
        "other-model",
        "none",
        "{}",
        0.1,
        FakeBackend(),
    )
    pd.DataFrame([other]).to_parquet(checkpoint / "shard-000000.parquet")
    backend = FakeBackend()
    frame = generate.generate_responses(
        prompts,
        "fake",
        "unused",
        "none",
        {},
        tmp_path / "o.parquet",
        batch_size=8,
        checkpoint_dir=checkpoint,
        log=lambda _: None,
        backend=backend,
    )
    assert "OTHER" not in frame["raw"].tolist() and len(frame) == 5


def test_expand_requests_handles_arrays_and_missing_system(tmp_path, prompts):
    prompts.to_parquet(tmp_path / "prompts.parquet")  # lists come back as numpy arrays
    table = pd.read_parquet(tmp_path / "prompts.parquet").drop(columns="system_prompt")
    requests = generate.expand_requests(table)
    assert [(r.id, r.sample) for r in requests] == KEYS
    assert requests[0].image_paths and requests[-1].image_paths == ()
    assert requests[0].messages() == [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What colour is this?"}]}
    ]


def test_make_backend_follows_the_registry_name():
    import torch

    from think_in_safety.models.generate import make_backend

    before = torch.get_num_threads()
    try:
        # transformers: built lazily by generate_responses, only once a batch is left to do
        assert make_backend("transformers", "resources/models/x", {}, {}, threads=1) is None
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="unknown generation backend 'tgi'"):
        make_backend("tgi", "resources/models/x", {}, {}, threads=1)


class ChunkedBackend(FakeBackend):
    """A continuously batching engine's interface: large chunks, a seed per request; the text
    depends on that seed only, as a seeded sampler's draw would."""

    seeds_per_request = True

    def __init__(self, preferred_chunk=None, fail_on_call=None):
        super().__init__(fail_on_call)
        self.preferred_chunk, self.calls = preferred_chunk, []

    def generate(self, batch, seed):
        self.calls.append([(r.id, r.sample) for r in batch])
        super().generate(batch, seed)
        return [generate.Output(f"draw {generate.request_seed(seed, r)}", 3, 4, True) for r in batch]


def _run(prompts, tmp_path, backend, name="c", batch_size=2, seed=7):
    return generate.generate_responses(
        prompts, "fake", "unused", "none", {}, tmp_path / f"{name}.parquet", batch_size=batch_size,
        seed=seed, log=lambda _: None, backend=backend,
    )


def test_backend_chunk_replaces_batch_size(tmp_path, prompts):
    whole = ChunkedBackend(preferred_chunk=None)
    _run(prompts, tmp_path, whole, "whole")
    assert whole.calls == [KEYS]  # every sample in one call, whatever batch_size says
    three = ChunkedBackend(preferred_chunk=3)
    _run(prompts, tmp_path, three, "three")
    assert three.calls == [KEYS[:3], KEYS[3:]]
    assert whole.seeds == three.seeds[:1] == [7]  # such a backend gets the run's seed in every call
    assert three.seeds == [7, 7]
    plain = FakeBackend()  # no preferred_chunk (transformers, API): batch_size per call
    _run(prompts, tmp_path, plain, "plain")
    assert plain.seeds == [7, 8, 9]


def test_per_request_seeds_do_not_depend_on_chunks_or_resume(tmp_path, prompts):
    reference = _run(prompts, tmp_path, ChunkedBackend(preferred_chunk=None), "ref")["raw"].tolist()
    assert len(set(reference)) == 5  # every (id, sample) draws its own seed
    for chunk in (1, 2, 4):
        assert _run(prompts, tmp_path, ChunkedBackend(preferred_chunk=chunk), f"c{chunk}")["raw"].tolist() == reference
    out = tmp_path / "resumed.parquet"
    run = dict(prompts=prompts, model_name="fake", model_path="unused", thought_format="none", decoding={},
               out_path=out, seed=7, log=lambda _: None)
    with pytest.raises(RuntimeError, match="device lost"):
        generate.generate_responses(**run, backend=ChunkedBackend(preferred_chunk=2, fail_on_call=2))
    resumed = ChunkedBackend(preferred_chunk=3)  # another chunk size on restart
    frame = generate.generate_responses(**run, backend=resumed)
    assert resumed.calls == [KEYS[2:3], KEYS[3:]]  # only the unfinished samples are redone
    assert frame["raw"].tolist() == reference
    assert _run(prompts, tmp_path, ChunkedBackend(), "other", seed=8)["raw"].tolist() != reference


def test_request_seed_is_stable_and_in_range():
    request = generate.Request("demo/a", 2, "", "x")
    seed = generate.request_seed(0, request)
    assert seed == generate.request_seed(0, generate.Request("demo/a", 2, "sys", "other text"))
    assert 0 <= seed < 2**63
    others = {generate.request_seed(0, generate.Request("demo/a", 1, "", "x")),
              generate.request_seed(1, request), generate.request_seed(0, generate.Request("demo/b", 2, "", "x"))}
    assert seed not in others and len(others) == 3
