"""A resumed generation reuses only samples of its own settings: checkpoint rows are keyed on the
model's weights, backend, decoding, seed and thought format (once per run) and on the prompt
text, images and draw seed (once per request); stale rows are left out, and the log says how
many and why. Also: shard tables of different settings are not merged, and the backends sit
behind a factory without an import cycle."""

import ast
import json
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from think_in_safety.models import generate
from think_in_safety.models.shards import merge_shards

from ..conftest import REPO


@pytest.fixture()
def prompts(tmp_path):
    """27 samples: an image prompt sampled 3 times, then 24 text prompts."""
    image = tmp_path / "img.png"
    Image.new("RGB", (32, 32), "red").save(image)
    ids = [f"p/{n:02d}" for n in range(25)]
    return pd.DataFrame({
        "id": ids,
        "benchmark": ["demo"] * 25,
        "prompt": [f"question {n}" for n in range(25)],
        "image_paths": [[str(image)]] + [[]] * 24,
        "system_prompt": [""] * 25,
        "n_samples": [3] + [1] * 24,
    })


class Echo:
    """Answers with the request's text and the decoding budget it was built with; can stop on
    a chosen call, as a killed job would."""

    def __init__(self, decoding=None, stop_on_call=None):
        self.decoding, self.stop_on_call, self.calls = dict(decoding or {}), stop_on_call, []

    def generate(self, batch, seed):
        self.calls.append([(r.id, r.sample) for r in batch])
        if len(self.calls) == self.stop_on_call:
            raise KeyboardInterrupt("stopped")
        budget = self.decoding.get("max_new_tokens")
        return [generate.Output(f"{r.prompt} [{budget}]", 2, 3, True) for r in batch]

    def count_tokens(self, text):
        return len(text.split())


class OtherEcho(Echo):
    """Another engine with the same interface."""


def run(prompts, tmp_path, decoding, backend=None, messages=None, **options):
    settings = dict(prompts=prompts, model_name="m", model_path=options.pop("model_path", "unused"),
                    thought_format=options.pop("thought_format", "none"), decoding=decoding,
                    out_path=tmp_path / "out.parquet", batch_size=options.pop("batch_size", 8),
                    seed=options.pop("seed", 0))
    log = (messages.append if messages is not None else (lambda _: None))
    return generate.generate_responses(**settings, log=log, backend=backend or Echo(decoding), **options)


def interrupt(prompts, tmp_path, decoding, backend_class=Echo, **options):
    """Two chunks of 8 finished, then the job stops."""
    with pytest.raises(KeyboardInterrupt):
        run(prompts, tmp_path, decoding, backend_class(decoding, stop_on_call=3), **options)
    shards = sorted((tmp_path / "out.partial").glob("shard-*.parquet"))
    assert sum(len(pd.read_parquet(shard)) for shard in shards) == 16


def test_a_resume_with_other_decoding_regenerates_every_sample(prompts, tmp_path):
    interrupt(prompts, tmp_path, {"max_new_tokens": 160})
    messages, backend = [], Echo({"max_new_tokens": 40})
    frame = run(prompts, tmp_path, {"max_new_tokens": 40}, backend, messages)
    assert len(frame) == 27
    assert {json.loads(d)["max_new_tokens"] for d in frame["decoding"]} == {40}
    assert frame["raw"].str.endswith("[40]").all()
    assert sum(len(call) for call in backend.calls) == 27
    note = next(m for m in messages if "left out" in m)
    assert "16 rows generated with other settings (decoding.max_new_tokens: 160 -> 40)" in note


def test_a_resume_with_the_same_settings_reuses_the_checkpoint(prompts, tmp_path):
    interrupt(prompts, tmp_path, {"max_new_tokens": 160})
    messages, backend = [], Echo({"max_new_tokens": 160})
    frame = run(prompts, tmp_path, {"max_new_tokens": 160}, backend, messages)
    assert sum(len(call) for call in backend.calls) == 11 and len(frame) == 27
    assert not any("left out" in m for m in messages)


def test_a_changed_prompt_or_image_regenerates_only_those_samples(prompts, tmp_path):
    interrupt(prompts, tmp_path, {})
    changed = prompts.copy()
    changed.loc[3, "prompt"] = "question 3, reworded"
    Image.new("RGB", (32, 32), "blue").save(prompts.loc[0, "image_paths"][0])  # same path, new picture
    messages, backend = [], Echo()
    frame = run(changed, tmp_path, {}, backend, messages)
    redone = sorted(key for call in backend.calls for key in call)
    assert redone[:4] == [("p/00", 0), ("p/00", 1), ("p/00", 2), ("p/03", 0)]
    assert len(redone) == 4 + 11
    assert frame.set_index("id").loc["p/03", "raw"].startswith("question 3, reworded")
    assert any("4 rows whose prompt text, images or draw seed changed" in m for m in messages)


@pytest.mark.parametrize(("change", "why"), [
    (dict(seed=5), "seed: 0 -> 5"),
    (dict(thought_format="think_tags"), 'thought_format: "none" -> "think_tags"'),
    (dict(backend_class=OtherEcho), "backend.backend"),
])
def test_another_seed_thought_format_or_backend_is_another_run(prompts, tmp_path, change, why):
    interrupt(prompts, tmp_path, {})
    messages = []
    backend = change.pop("backend_class", Echo)({})
    run(prompts, tmp_path, {}, backend, messages, **change)
    assert sum(len(call) for call in backend.calls) == 27
    assert any("16 rows generated with other settings" in m and why in m for m in messages), messages


def test_retuned_weights_in_the_same_folder_are_another_run(prompts, tmp_path):
    weights = tmp_path / "model"
    weights.mkdir()
    (weights / "config.json").write_text("{}")
    (weights / "model.safetensors").write_bytes(b"\0" * (3 << 20))
    interrupt(prompts, tmp_path, {}, model_path=str(weights))
    with open(weights / "model.safetensors", "r+b") as handle:  # retrained: the last bytes differ
        handle.seek((3 << 20) - 8)
        handle.write(b"retuned!")
    messages, backend = [], Echo()
    run(prompts, tmp_path, {}, backend, messages, model_path=str(weights))
    assert sum(len(call) for call in backend.calls) == 27
    assert any("weights.fingerprint" in m for m in messages)


def test_hub_weights_are_keyed_by_their_manifest(tmp_path):
    snapshot = tmp_path / "resources/hub/org/name" / ("a" * 40)
    snapshot.mkdir(parents=True)
    manifest = {"repo": "org/name", "revision": "a" * 40, "digest": "d1", "files": []}
    Path(f"{snapshot}.manifest.json").write_text(json.dumps(manifest))
    assert generate.weights_identity(snapshot) == {"repo": "org/name", "revision": "a" * 40, "digest": "d1"}
    assert generate.weights_identity("api") == {"path": "api"}


def test_sampled_runs_key_the_seed_each_request_is_drawn_with(prompts, tmp_path):
    sampling = {"temperature": 0.7}
    interrupt(prompts, tmp_path, sampling)
    messages, backend = [], Echo(sampling)
    run(prompts, tmp_path, sampling, backend, messages, batch_size=4)  # chunk b is seeded seed + b
    # with chunks of 4 instead of 8 the draw seeds of the finished samples changed
    assert sum(len(call) for call in backend.calls) > 11
    assert any("draw seed changed" in m for m in messages)


def test_shards_of_different_settings_are_not_merged(prompts):
    requests = generate.expand_requests(prompts)
    tables = []
    for shard, budget in ((0, 160), (1, 40)):
        rows = [generate.response_record(r, generate.Output("x", 1, 1, True), "m", "none",
                                         json.dumps({"max_new_tokens": budget}), 0.1, Echo())
                for r in requests[shard::2]]
        tables.append(pd.DataFrame(rows))
    with pytest.raises(ValueError, match=r"different settings .*160.* in shards \[0\].*40.* in shards \[1\]"):
        merge_shards(prompts, tables)


# ------------------------------------------------------------------------------------------------
# the backends behind a factory: no import cycle
# ------------------------------------------------------------------------------------------------
def _imports(path: Path, package: str) -> set[str]:
    """Modules of ``package`` that ``path`` imports, at any depth (function-level imports too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(package):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith(package))
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and node.value.startswith(package + ".")):  # importlib.import_module("...") targets
            found.add(node.value)
    return found


def test_the_generation_modules_import_no_cycle():
    root = REPO / "workflow/src/think_in_safety/models"
    modules = {f"think_in_safety.models.{p.stem}": p for p in root.glob("*.py") if p.stem != "__init__"}
    graph = {name: _imports(path, "think_in_safety.models") & set(modules) - {name} for name, path in modules.items()}

    def cycle_from(start, node, seen):
        for nxt in graph[node]:
            if nxt == start:
                return [*seen, nxt]
            if nxt not in seen:
                found = cycle_from(start, nxt, [*seen, nxt])
                if found:
                    return found
        return None

    cycles = [c for name in graph if (c := cycle_from(name, name, [name]))]
    assert not cycles, f"import cycles: {cycles}"


def test_the_factory_builds_backends_by_name_and_old_names_still_work(monkeypatch):
    from think_in_safety.models import backends, openai_backend

    assert generate.make_backend is backends.make_backend
    assert backends.backend_class("openai") is openai_backend.OpenAIBackend
    assert backends.backend_class("transformers") is None
    with pytest.raises(ValueError, match="unknown generation backend 'tgi'.*'transformers', 'vllm', 'openai'"):
        backends.backend_class("tgi")
    for name in ("Request", "Output", "Backend", "request_seed", "sampling_settings", "effective_decoding"):
        assert getattr(generate, name) is getattr(__import__("think_in_safety.models.protocol",
                                                             fromlist=[name]), name)


def test_one_job_over_several_tables_loads_the_model_once(tmp_path, tiny_model, prompts, monkeypatch):
    # the rule generate's job: every benchmark of one model, one TransformersBackend for all
    built = []
    real = generate.TransformersBackend

    def counting(*args, **kwargs):
        built.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(generate, "TransformersBackend", counting)
    tables = [("first", prompts.head(2), tmp_path / "first.parquet"),
              ("second", prompts.tail(2), tmp_path / "second.parquet")]
    common = dict(model_name="tiny", model_path=tiny_model, thought_format="none",
                  decoding={"max_new_tokens": 3, "temperature": 0.0}, batch_size=4, seed=0)
    first, second = generate.generate_tables(tables, log=lambda _: None, **common)
    assert built == [tiny_model]
    assert list(first["id"]) == ["p/00"] * 3 + ["p/01"] and list(second["id"]) == ["p/23", "p/24"]
    # each table as its own job writes it
    alone = generate.generate_responses(prompts.tail(2), out_path=tmp_path / "alone.parquet", log=lambda _: None,
                                        **common)
    assert alone.drop(columns="seconds").equals(second.drop(columns="seconds"))
    built.clear()

    # the samples stay keyed in each table's folder: a rerun reads them back and loads no model
    for _, _, out_path in tables:
        (shard,) = out_path.with_suffix(".partial").glob("shard-*.parquet")
        assert len(pd.read_parquet(shard)) == len(pd.read_parquet(out_path))
        assert len(list(out_path.with_suffix(".partial").glob("run-*.json"))) == 1
        out_path.unlink()  # Snakemake removes a job's outputs before it runs it again
    again = generate.generate_tables(tables, log=lambda _: None, **common)
    assert built == []
    assert [frame.drop(columns="seconds").equals(done.drop(columns="seconds"))
            for frame, done in zip(again, (first, second))] == [True, True]


def test_a_kept_folder_holds_only_the_current_samples(prompts, tmp_path):
    # a table that changed: the rerun regenerates only the changed samples, and the folder then
    # keeps this run's rows (one shard, one run file), not the stale ones beside them
    out_path = tmp_path / "out.parquet"
    common = dict(model_name="m", model_path="unused", thought_format="none", decoding={"max_new_tokens": 4},
                  batch_size=5, seed=0, log=lambda _: None)
    generate.generate_tables([("t", prompts, out_path)], backend=Echo({"max_new_tokens": 4}), **common)
    changed = prompts.assign(prompt=[f"new {n}" if n < 2 else f"question {n}" for n in range(25)])
    echo = Echo({"max_new_tokens": 4})
    (frame,) = generate.generate_tables([("t", changed, out_path)], backend=echo, **common)
    assert sorted({key for call in echo.calls for key in call}) == [("p/00", 0), ("p/00", 1), ("p/00", 2),
                                                                     ("p/01", 0)]
    assert frame.loc[frame["id"] == "p/01", "answer"].iloc[0].startswith("new 1")
    folder = out_path.with_suffix(".partial")
    (shard,) = folder.glob("shard-*.parquet")
    kept = pd.read_parquet(shard)
    assert len(kept) == 27 and kept["sample_key"].is_unique
    assert len(list(folder.glob("run-*.json"))) == 1
