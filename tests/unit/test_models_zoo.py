"""think_in_safety.models.zoo: tokenizer round-trips, chat format, deterministic tiny models."""

import pytest

from think_in_safety.models import chat_data, zoo

TEXTS = [
    "The red circle is to the left of the blue square.",
    "<think>\nThe question asks me to count.\n</think>\nThere are two stars.",
    "<SUMMARY>s</SUMMARY>\n\n<CONCLUSION>Café, naïve — 12 × 3 = 36!</CONCLUSION>",
    "1. Boil water.\n2. Steep.\n3. Serve.   \t trailing",
]


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tok")
    zoo.build_tokenizer(chat_data.tokenizer_corpus(60, seed=0), directory, vocab_size=512)
    return directory


@pytest.fixture(scope="module")
def tokenizer(tokenizer_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tokenizer_dir)


@pytest.mark.parametrize("text", TEXTS)
def test_tokenizer_round_trips(tokenizer, text):
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == text


def test_thought_tags_are_single_kept_tokens(tokenizer):
    for tag in zoo.THOUGHT_TOKENS:
        ids = tokenizer(tag, add_special_tokens=False)["input_ids"]
        assert len(ids) == 1, tag
        assert tokenizer.decode(ids, skip_special_tokens=True) == tag
    ids = tokenizer("<think>\nx\n</think>\ny<|im_end|>", add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == "<think>\nx\n</think>\ny"


def test_special_tokens(tokenizer):
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token == "<|endoftext|>"
    for token in zoo.QWEN2VL_SPECIAL_TOKENS:
        assert len(tokenizer(token, add_special_tokens=False)["input_ids"]) == 1
    assert tokenizer(TEXTS[0])["input_ids"] == tokenizer(TEXTS[0], add_special_tokens=False)["input_ids"]


def test_chat_template_matches_qwen2_vl_layout(tokenizer):
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "How many?"}]}]
    assert tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>How many?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    with_system = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert tokenizer.apply_chat_template(with_system, tokenize=False, add_generation_prompt=True) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )


def test_chat_template_matches_llamafactory_training_format(tokenizer):
    """Inference prompts must be the token sequence LLaMA-Factory's qwen2_vl template trains on."""
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.hparams import DataArguments

    template = get_template_and_fix_tokenizer(tokenizer, DataArguments(template="qwen2_vl"))
    user = "<|vision_start|><|image_pad|><|vision_end|>What colour is the circle?"
    prompt_ids, answer_ids = template.encode_oneturn(
        tokenizer, [{"role": "user", "content": user}, {"role": "assistant", "content": "Red."}]
    )
    messages = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What colour is the circle?"}]}
    ]
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert tokenizer(rendered, add_special_tokens=False)["input_ids"] == prompt_ids
    assert tokenizer.decode(answer_ids) == "Red.<|im_end|>\n"


def test_tiny_model_is_deterministic_and_loads(tmp_path, tokenizer_dir):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    zoo.build_tiny_model(tokenizer_dir, tmp_path / "a", seed=3)
    zoo.build_tiny_model(tokenizer_dir, tmp_path / "b", seed=3)
    zoo.build_tiny_model(tokenizer_dir, tmp_path / "c", seed=4)
    assert zoo.weights_hash(tmp_path / "a") == zoo.weights_hash(tmp_path / "b")
    assert zoo.weights_hash(tmp_path / "a") != zoo.weights_hash(tmp_path / "c")
    processor = AutoProcessor.from_pretrained(tmp_path / "a")
    model = AutoModelForImageTextToText.from_pretrained(tmp_path / "a")
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    assert sum(p.numel() for p in model.parameters()) < 2_000_000
    tokenizer = processor.tokenizer
    assert model.config.image_token_id == tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert model.config.vision_start_token_id == tokenizer.convert_tokens_to_ids("<|vision_start|>")
    assert model.config.text_config.vocab_size == len(tokenizer)
    assert processor.image_processor.size == {"shortest_edge": zoo.MIN_PIXELS, "longest_edge": zoo.MAX_PIXELS}
