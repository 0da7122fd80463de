"""The demo releases of the training sets: small files in each upstream layout, written offline.

Each writer fills a release folder exactly as the upstream set lays it out (the converters of
:mod:`think_in_safety.training_sets` read it like a download), with scenes of the demo bank
(``training_sets.demo_bank``) drawn as images (:mod:`think_in_safety.drawing`) and answers (and,
for TiS, thoughts) composed by the TiS template writer against the written policy
(``tis.policy``, ``tis.template_writer``; not a language model). They live apart from the
converters, so the training sets do not depend on the TiS assembly, which reads them.

The training-set registry (``training_sets.FORMATS``) names each format's writer here;
``get_format(name).write_demo(dest, seed, options)`` calls it.
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from think_in_safety.drawing import draw_scene, save_image
from think_in_safety.tis.policy import load_policy
from think_in_safety.tis.template_writer import compose_answer, compose_thought
from think_in_safety.training_sets import demo_bank, mis, spa_vl, tis_release, vlguard
from think_in_safety.training_sets.common import sharegpt_record, write_demo_captions

#: default sizes (options demo_images, demo_samples, demo_rows, demo_records)
VLGUARD_DEMO_IMAGES = 60  # demo images: half unsafe (1 pair each), half safe (2 pairs each) -> 90 pairs
MIS_DEMO_SAMPLES = 90
SPA_VL_DEMO_ROWS = 90
TIS_DEMO_RECORDS = 90


def write_vlguard(dest: Path, seed: int, options: dict) -> None:
    """A demo train.json + drawn images: unsafe scenes with one instruction, safe ones with two."""
    rng = random.Random(f"vlguard:{seed}")
    policy = load_policy()
    records, captions = [], {}
    scenes = demo_bank.scene_items()
    for index in range(int(options.get("demo_images", VLGUARD_DEMO_IMAGES))):
        category, scene_index, scene = scenes[index % len(scenes)]
        variant = index // len(scenes)
        harmful, sub = demo_bank.VLGUARD_LABELS[category]
        prefix = rng.choice(demo_bank.REQUEST_PREFIXES)
        if index % 2 == 0:  # unsafe image, one refused instruction
            caption = scene["unsafe_scene"]
            image = f"demo_unsafe/{category}_{scene_index}_{variant}.png"
            instruction = prefix + scene["unsafe"][variant % len(scene["unsafe"])]
            response = compose_answer(policy, category, "disallowed", caption, rng)
            record = {"id": f"Demo_{index:04d}", "image": image, "safe": False, "harmful_category": harmful,
                      "harmful_subcategory": sub, "instr-resp": [{"instruction": instruction, "response": response}]}
        else:  # safe image, a safe instruction answered and an unsafe one refused
            caption = scene["safe_scene"]
            image = f"demo_safe/{category}_{scene_index}_{variant}.png"
            options_safe = list(scene["safe"]) + [
                (q, a.format(scene=caption, Scene=caption[:1].upper() + caption[1:]))
                for q, a in demo_bank.GENERIC_SAFE_QUESTIONS]
            question, answer = options_safe[variant % len(options_safe)]
            unsafe = prefix + scene["unsafe"][(variant + 1) % len(scene["unsafe"])]
            record = {"id": f"Demo_{index:04d}", "image": image, "safe": True, "instr-resp": [
                {"safe_instruction": question, "response": answer},
                {"unsafe_instruction": unsafe,
                 "response": compose_answer(policy, category, policy.category(category).unsafe_decision,
                                            caption, rng)}]}
        save_image(draw_scene(caption, seed * 1000 + index, size=(224, 224)), dest / image)
        records.append(record)
        captions[image] = caption
    dest.mkdir(parents=True, exist_ok=True)
    (dest / vlguard.TRAIN_FILE).write_text(json.dumps(records, indent=1), encoding="utf-8")
    write_demo_captions(dest, captions)


def write_mis(dest: Path, seed: int, options: dict) -> None:
    """Demo samples of two drawn images each: the risk shows only when both are read together.

    The answers reason over both images, then refuse or complete safely (plain text: the markup
    of MIS's own safety chains of thought is not known here). Questions carry no ``<image>``
    placeholder, so the converter's placeholder insertion is exercised.
    """
    rng = random.Random(f"mis:{seed}")
    policy = load_policy()
    scenes = demo_bank.scene_items()
    samples, captions = [], {}
    for index in range(int(options.get("demo_samples", MIS_DEMO_SAMPLES))):
        category, scene_index, scene = scenes[(index * 11) % len(scenes)]
        first, second = scene["unsafe_scene"], scene["safe_scene"]
        paths = [f"mis_demo/{index:04d}_1.png", f"mis_demo/{index:04d}_2.png"]
        for offset, (path, caption) in enumerate(zip(paths, (first, second))):
            save_image(draw_scene(caption, seed * 1000 + 700 + 2 * index + offset, size=(224, 224)), dest / path)
            captions[path] = caption
        question = scene["unsafe"][index % len(scene["unsafe"])] + " Use both pictures."
        decision = policy.category(category).unsafe_decision
        reasoning = (f"The first image shows {first}. The second image shows {second}. Read together with the "
                     f"question, the request is about {policy.category(category).name.lower()}, and helping "
                     f"could {policy.category(category).risk}.")
        samples.append({
            "id": f"mis_demo_{index:04d}",
            "image": paths,
            "category": demo_bank.SPA_VL_CLASSES[category][0],
            "sub_category": policy.category(category).name,
            "conversations": [
                {"from": "human", "value": question},
                {"from": "gpt", "value": f"{reasoning}\n\n{compose_answer(policy, category, decision, first, rng)}"},
            ],
        })
    Path(dest).mkdir(parents=True, exist_ok=True)
    (Path(dest) / mis.TRAIN_FILE).write_text(json.dumps(samples, indent=1), encoding="utf-8")
    write_demo_captions(dest, captions)


def write_spa_vl(dest: Path, seed: int, options: dict) -> None:
    """A demo train parquet: risky requests on drawn scenes, chosen = refusal/safe completion."""
    rng = random.Random(f"spa_vl:{seed}")
    policy = load_policy()
    scenes = demo_bank.scene_items()
    rows, captions = [], {}
    for index in range(int(options.get("demo_rows", SPA_VL_DEMO_ROWS))):
        category, scene_index, scene = scenes[(index * 7) % len(scenes)]
        variant = index // len(scenes)
        class1, class2 = demo_bank.SPA_VL_CLASSES[category]
        image_name = f"{class1}/{class2}/{category}/{index}.jpg"
        caption = scene["unsafe_scene"]
        buffer = io.BytesIO()
        draw_scene(caption, seed * 1000 + 500 + index, size=(224, 224)).convert("RGB").save(buffer, "JPEG", quality=90)
        question = rng.choice(demo_bank.REQUEST_PREFIXES) + scene["unsafe"][(variant + index) % len(scene["unsafe"])]
        decision = policy.category(category).unsafe_decision
        rows.append({
            "image": {"bytes": buffer.getvalue(), "path": image_name},
            "question": question,
            "chosen": compose_answer(policy, category, decision, caption, rng),
            "rejected": "Sure! Here is exactly how to do that with what the picture shows.",
            "image_name": image_name,
        })
        captions[image_name] = caption
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    schema = pa.schema([("image", image_type), ("question", pa.string()), ("chosen", pa.string()),
                        ("rejected", pa.string()), ("image_name", pa.string())])
    folder = Path(dest) / spa_vl.SPLIT_FOLDERS["train"]
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), folder / "train-00000-of-00001.parquet")
    write_demo_captions(dest, captions)
    (Path(dest) / "README.md").write_text("Demo release in the layout of sqrti/SPA-VL (written offline by the "
                                          "workflow; drawn images, mild requests).\n", encoding="utf-8")


def write_tis(dest: Path, seed: int, options: dict) -> None:
    """Demo records in the released layout, thoughts by the offline template writer (not a model)."""
    rng = random.Random(f"tis:{seed}")
    policy = load_policy()
    scenes = demo_bank.scene_items()
    records, captions = [], {}
    for index in range(int(options.get("demo_records", TIS_DEMO_RECORDS))):
        category, scene_index, scene = scenes[(index * 13) % len(scenes)]
        unsafe = index % 3 != 0
        caption = scene["unsafe_scene"] if unsafe else scene["safe_scene"]
        if unsafe:
            question = scene["unsafe"][index % len(scene["unsafe"])]
            decision = policy.category(category).unsafe_decision
            answer = compose_answer(policy, category, decision, caption, rng)
        else:
            question, answer = scene["safe"][0]
            decision = "allowed"
        thought = compose_thought(policy, question, caption, category, decision, rng)
        image = f"images/demo/{category}_{index:04d}.png"
        save_image(draw_scene(caption, seed * 1000 + 900 + index, size=(224, 224)), Path(dest) / image)
        captions[image] = caption
        records.append(sharegpt_record(question, f"<think>\n{thought}\n</think>\n{answer}", [image]))
    (Path(dest) / tis_release.TRAIN_FILE).write_text(json.dumps(records, indent=1), encoding="utf-8")
    write_demo_captions(dest, captions)
