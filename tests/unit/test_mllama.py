"""The Mllama family (Llama-3.2-Vision, LLaVA-CoT) through the workflow, on a tiny random Mllama.

The model is built offline by :mod:`think_in_safety.models.tiny_mllama` (random weights, the
Llama 3 special tokens, a Llama-3.2-Vision chat layout). The tests prove what the real family
needs from the workflow: one BOS token, per-request image lists, text-only and image prompts
in one batch, left padding, and LLaMA-Factory's ``mllama`` template validating and training it
through the package's own SFT path (``llamafactory-cli train``, 2 steps on CPU).
"""

import json
import math

import pandas as pd
import pytest
from PIL import Image

from think_in_safety import sft
from think_in_safety.models import generate, tiny_mllama, zoo
from think_in_safety.training_sets import get_format
from think_in_safety.training_sets.validate import raise_if_rejected, validate_set

from ..conftest import REPO

SEED = 0
CORPUS = [
    "What colour is the square in the image?",
    "<SUMMARY>I will look at the image.</SUMMARY>\n\n<CONCLUSION>The square is red.</CONCLUSION>",
    "Give three tips for sleeping better: keep a schedule, avoid screens, keep the room cool.",
] * 20
GREEDY = {"max_new_tokens": 8, "temperature": 0.0}


@pytest.fixture(scope="module")
def mllama(tmp_path_factory):
    """The tiny Mllama, built once; tests read it and never write into it."""
    return tiny_mllama.build_tiny_mllama(tmp_path_factory.mktemp("mllama") / "model", SEED, tokenizer_corpus=CORPUS)


@pytest.fixture(scope="module")
def backend(mllama):
    return generate.TransformersBackend(str(mllama), GREEDY, device="cpu")


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    paths = []
    for name, size, colour in (("red", (80, 60), "red"), ("tall", (50, 130), "blue"), ("wide", (200, 40), "green")):
        Image.new("RGB", size, colour).save(folder / f"{name}.png")
        paths.append(str(folder / f"{name}.png"))
    return paths


@pytest.fixture(scope="module")
def mixed_batch(images):
    """Text-only and image prompts interleaved: 0, 1 (with a system prompt) and 2 images."""
    request = generate.Request
    return [
        request("text", 0, "", "Give three tips for sleeping better."),
        request("one", 0, "Answer briefly.", "What colour is the square?", (images[0],)),
        request("two", 0, "", "Compare the two images, please.", (images[1], images[2])),
        request("text-sys", 0, "Answer briefly.", "Hi"),
    ]


def _files(folder):
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_builder_is_deterministic_per_seed(tmp_path, mllama):
    again = tiny_mllama.build_tiny_mllama(tmp_path / "again", SEED, tokenizer_corpus=CORPUS)
    other = tiny_mllama.build_tiny_mllama(tmp_path / "other", SEED + 1, tokenizer_corpus=CORPUS)
    assert _files(again) == _files(mllama)  # same bytes, every file
    assert zoo.weights_hash(other) != zoo.weights_hash(mllama)
    assert (other / "tokenizer.json").read_bytes() == (mllama / "tokenizer.json").read_bytes()
    assert sum(len(data) for data in _files(mllama).values()) < 4_000_000
    expected = {"config.json", "model.safetensors", "generation_config.json", "tokenizer.json",
                "tokenizer_config.json", "chat_template.jinja", "processor_config.json"}
    assert expected <= set(_files(mllama))


def test_folder_loads_with_llama3_conventions(mllama, backend):
    config = json.loads((mllama / "config.json").read_text())
    assert config["model_type"] == tiny_mllama.FAMILY["model_type"]
    assert config["architectures"] == tiny_mllama.FAMILY["architectures"]
    assert type(backend.processor).__name__ == tiny_mllama.FAMILY["processor_class"]
    assert type(backend.model).__name__ == "MllamaForConditionalGeneration"
    tokenizer = backend.tokenizer
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token) == (
        "<|begin_of_text|>", "<|eot_id|>", "<|finetune_right_pad_id|>")
    for token in [*tiny_mllama.LLAMA3_SPECIAL_TOKENS, "<|image|>", *zoo.THOUGHT_TOKENS]:
        assert len(tokenizer(token, add_special_tokens=False)["input_ids"]) == 1, token
    image_id = tokenizer.convert_tokens_to_ids("<|image|>")
    # as in Llama-3.2-Vision: the image token is one past the language model's vocabulary
    assert image_id == len(tokenizer) - 1 == config["image_token_index"] == config["text_config"]["vocab_size"]
    ends = ("<|end_of_text|>", "<|eom_id|>", "<|eot_id|>")
    assert backend.eos_ids == {tokenizer.convert_tokens_to_ids(token) for token in ends}
    stages = "<SUMMARY>s</SUMMARY>\n\n<CONCLUSION>red</CONCLUSION>"
    ids = tokenizer(stages + "<|eot_id|>", add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == stages  # LLaVA-CoT's tags survive decoding


def test_chat_template_matches_llamafactory_mllama_format(mllama):
    """Inference prompts are the token sequence LLaMA-Factory's `mllama` template trains on."""
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.hparams import DataArguments
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(mllama)
    trained = AutoTokenizer.from_pretrained(mllama)
    template = get_template_and_fix_tokenizer(trained, DataArguments(template="mllama"))
    for system in ("", "Answer briefly."):
        request = generate.Request("x", 0, system, "What colour is the circle?", ("img.png",))
        rendered = tokenizer.apply_chat_template(request.messages(), tokenize=False, add_generation_prompt=True)
        prompt_ids, answer_ids = template.encode_oneturn(
            trained, [{"role": "user", "content": "<|image|>What colour is the circle?"},
                      {"role": "assistant", "content": "Red."}], system=system or None)
        assert tokenizer(rendered, add_special_tokens=False)["input_ids"] == prompt_ids
        assert trained.decode(answer_ids) == "Red.<|eot_id|>"
    system_turn = "<|start_header_id|>system<|end_header_id|>\n\nAnswer briefly.<|eot_id|>"
    assert rendered.startswith("<|begin_of_text|>" + system_turn)


def test_one_bos_token(backend, mixed_batch):
    bos = backend.tokenizer.bos_token_id
    texts = [backend._render(r) for r in mixed_batch]
    assert all(text.startswith("<|begin_of_text|>") for text in texts)  # the template writes it
    for positions in backend._groups(mixed_batch, texts):
        inputs = backend._inputs([mixed_batch[i] for i in positions], [texts[i] for i in positions])
        for ids, mask in zip(inputs["input_ids"].tolist(), inputs["attention_mask"].tolist()):
            real = [token for token, keep in zip(ids, mask) if keep]
            assert real[0] == bos and real.count(bos) == 1
    # what the processor does on its own: the tokenizer adds a second BOS
    doubled = backend.processor(text=texts[:1], return_tensors="pt")["input_ids"][0].tolist()
    assert doubled[:2] == [bos, bos]


def test_processor_traits_and_groups(backend, mixed_batch):
    assert backend.traits == generate.ProcessorTraits(nested=True, mixed=False)
    texts = [backend._render(r) for r in mixed_batch]
    assert backend._groups(mixed_batch, texts) == [[0, 3], [1, 2]]  # text-only apart from image prompts
    assert backend._groups([mixed_batch[0], mixed_batch[3]], [texts[0], texts[3]]) == [[0, 1]]


def test_left_padding(backend, mixed_batch):
    batch = [mixed_batch[1], mixed_batch[2]]  # one image and two images: different lengths
    texts = [backend._render(r) for r in batch]
    inputs = backend._inputs(batch, texts)
    lengths = [len(backend.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    assert lengths[0] != lengths[1]
    assert inputs["attention_mask"].sum(dim=1).tolist() == lengths
    short = lengths.index(min(lengths))
    pad = max(lengths) - min(lengths)
    row, mask = inputs["input_ids"][short].tolist(), inputs["attention_mask"][short].tolist()
    assert mask == [0] * pad + [1] * min(lengths)
    assert row[:pad] == [backend.tokenizer.pad_token_id] * pad
    assert inputs["pixel_values"].shape[:2] == (2, 2)  # per request, up to two images each
    assert inputs["cross_attention_mask"].shape[:3] == (2, max(lengths), 2)


def test_mixed_batch_matches_one_request_at_a_time(backend, mixed_batch):
    together = backend.generate(mixed_batch, seed=3)
    alone = [backend.generate([request], seed=3)[0] for request in mixed_batch]
    assert [o.text for o in together] == [o.text for o in alone]
    assert [o.prompt_tokens for o in together] == [o.prompt_tokens for o in alone]
    assert together == alone
    assert len({o.text for o in together}) > 1  # prompts give different texts: the order is checked
    texts = [backend._render(r) for r in mixed_batch]
    assert [o.prompt_tokens for o in together] == [
        len(backend.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    assert together[2].prompt_tokens > together[0].prompt_tokens
    assert all(1 <= o.generated_tokens <= GREEDY["max_new_tokens"] for o in together)


def test_generate_responses_with_llava_cot_format(tmp_path, mllama, images):
    prompts = pd.DataFrame({
        "id": ["b/text", "b/one", "b/two"],
        "prompt": ["Hello", "What is shown?", "Which is taller?"],
        "image_paths": [[], [images[0]], [images[1], images[2]]],
        "system_prompt": ["", "", ""],
        "n_samples": [1, 2, 1],
    })
    frame = generate.generate_responses(prompts, "llava-cot-tiny", str(mllama), "llava_cot_stages",
                                        {**GREEDY, "temperature": 0.7}, tmp_path / "r.parquet", batch_size=3,
                                        seed=1, log=lambda _: None)
    assert list(zip(frame["id"], frame["sample"])) == [("b/text", 0), ("b/one", 0), ("b/one", 1), ("b/two", 0)]
    assert frame["prompt_tokens"].tolist()[1] == frame["prompt_tokens"].tolist()[2]
    assert not frame["raw"].str.contains("<|eot_id|>", regex=False).any()


def test_template_refusal_names_the_request(mllama, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for path in mllama.iterdir():
        (broken / path.name).write_bytes(path.read_bytes())
    (broken / "chat_template.jinja").write_text(
        "{% if messages[0]['role'] == 'system' %}{{ raise_exception('no system messages') }}{% endif %}x")
    backend = generate.TransformersBackend(str(broken), GREEDY, device="cpu")
    with pytest.raises(ValueError, match=r"refused request 'q'.*no system messages"):
        backend.generate([generate.Request("q", 0, "Be brief.", "Hi")], seed=0)


def test_llamafactory_validates_and_trains_mllama(tmp_path, mllama, images):
    """The workflow's SFT path (validate_set, accepted_dataset, run_sft with the shipped YAML
    template) with LLaMA-Factory's `mllama` template: 2 full fine-tuning steps on CPU."""
    tis = get_format("tis")
    tis.write_demo(tmp_path / "release", seed=0, options={"demo_records": 6})
    tis.convert(tmp_path / "release", tmp_path / "set", "demo_tis")
    records = json.loads((tmp_path / "set/data.json").read_text())
    first = records[0]["conversations"][0]
    first["value"] = first["value"].replace("<image>", "")  # text-only
    records[0]["images"] = []
    second = records[1]["conversations"][0]
    second["value"] = "<image><image>" + second["value"].replace("<image>", "")  # two images
    records[1]["images"] = records[1]["images"] + records[2]["images"]
    records[3]["conversations"][0]["value"] = records[3]["conversations"][0]["value"].replace("<image>", "")
    (tmp_path / "set/data.json").write_text(json.dumps(records))

    template = sft.load_template(REPO / "config/llamafactory_sft.yaml")
    hyper = {"max_steps": 2, "per_device_train_batch_size": 3, "cutoff_len": 512, "logging_steps": 1}

    def train_config(dataset_dir, extra):
        return sft.train_config(template, str(mllama), dataset_dir, "demo_tis", tmp_path / "tuned", "mllama",
                                {**hyper, "extra": extra}, seed=0)

    table, summary = validate_set(train_config(tmp_path / "set", {}))
    status = table.set_index("index")["status"]
    assert status[3] == "rejected" and "number of images does not match" in table.set_index("index").loc[3, "reason"]
    assert set(status.drop(3)) <= {"ok", "truncated"} and summary["template"] == "mllama"
    tokens = table.set_index("index")["tokens"]
    assert tokens[1] > 0 and tokens[0] > 0
    raise_if_rejected(summary, table, 0.2, "report.csv")

    dataset_dir, extra = sft.accepted_dataset(tmp_path / "set", "demo_tis", table, tmp_path / "accepted")
    config = train_config(dataset_dir, extra)
    assert config["template"] == "mllama" and config["bf16"] is False
    result = sft.run_sft(config, tmp_path / "train.yaml", tmp_path / "train.log", tmp_path / "summary.json",
                         records=summary["records"] - summary["rejected"])
    state = json.loads((tmp_path / "tuned/trainer_state.json").read_text())
    assert state["global_step"] == 2
    assert math.isfinite(result["llamafactory_train_results"]["train_loss"])
    assert zoo.weights_hash(tmp_path / "tuned") != zoo.weights_hash(mllama)
    tuned = generate.TransformersBackend(str(tmp_path / "tuned"), GREEDY, device="cpu")
    requests = [generate.Request("t", 0, "", "Hi"), generate.Request("i", 0, "", "What?", (images[0],))]
    outputs = tuned.generate(requests, seed=0)
    assert len(outputs) == 2 and all(o.prompt_tokens > 0 for o in outputs)
