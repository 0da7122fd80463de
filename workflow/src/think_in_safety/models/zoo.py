"""Tiny Qwen2.5-VL models built offline: the embedded default's model zoo.

The real study compares 7B-11B reasoning models with their base models. The embedded demo keeps
that shape with models of ~1 M parameters: one tokenizer trained here, one random-initialised
Qwen2.5-VL per seed, then fine-tuned by :mod:`think_in_safety.models.tuning`. Recipe and sizes
follow the stack proven on the target machines (docs/stack.md, "The tiny model zoo").
"""

from __future__ import annotations

import hashlib
from pathlib import Path

# Qwen2-VL's special tokens, in Qwen's order (ids follow the trained vocabulary here).
QWEN2VL_SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

# Thought markers of the two reasoning formats (R1-Onevision / TiS, LLaVA-CoT). Added as
# ordinary (non-special) tokens: one id each, and decoding with skip_special_tokens keeps them.
THOUGHT_TOKENS = [
    "<think>",
    "</think>",
    "<SUMMARY>",
    "</SUMMARY>",
    "<CAPTION>",
    "</CAPTION>",
    "<REASONING>",
    "</REASONING>",
    "<CONCLUSION>",
    "</CONCLUSION>",
]

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."

# The Qwen2-VL chat format, written as the ChatML layout LLaMA-Factory's `qwen2_vl` template trains
# on: default system message, one vision block per image part, then the text parts. The
# template is one line without Jinja whitespace control, so every newline is a literal one.
CHAT_TEMPLATE = (
    "{% if messages[0]['role'] != 'system' %}"
    "<|im_start|>system\n" + DEFAULT_SYSTEM_PROMPT + "<|im_end|>\n"
    "{% endif %}"
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}"
    "{{ message['content'] }}"
    "{% else %}"
    "{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'video' %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}"
    "{{ part['text'] }}"
    "{% endif %}"
    "{% endfor %}"
    "{% endif %}"
    "<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}"
    "<|im_start|>assistant\n"
    "{% endif %}"
)

# Image processor bounds: 4-16 merged image tokens per image (docs/stack.md).
MIN_PIXELS = 3136
MAX_PIXELS = 12544

# Architecture of the tiny model (docs/stack.md): hidden 128, 2 layers, 4 heads / 2 KV heads,
# vision depth 2 / hidden 64. The mrope sections sum to head_dim / 2 = 16.
TINY_ARCHITECTURE = {
    "hidden_size": 128,
    "intermediate_size": 384,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "mrope_section": [4, 6, 6],
    "vision_depth": 2,
    "vision_hidden_size": 64,
    "vision_intermediate_size": 128,
    "vision_num_heads": 4,
}


def _offline() -> None:
    """Nothing to switch off: the builders read and write local folders only, so no call reaches
    the hub, and this process's HF_HUB_OFFLINE stays the user's (it used to be set here)."""


def train_byte_level_bpe(corpus: list[str], special_tokens: list[str], vocab_size: int):
    """A ``tokenizers.Tokenizer``: byte-level BPE trained on ``corpus``, plus the thought markers.

    ``special_tokens`` take the first ids, in their order; the markers of :data:`THOUGHT_TOKENS`
    follow the trained vocabulary as ordinary (non-special) tokens, so decoding keeps them.
    Deterministic: the same corpus gives the same vocabulary and merges.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(corpus, trainer=trainer)
    backend.add_tokens([AddedToken(token, special=False, normalized=False) for token in THOUGHT_TOKENS])
    return backend


def build_tokenizer(corpus: list[str], out_dir: Path, vocab_size: int = 2048) -> None:
    """Train a byte-level BPE on ``corpus`` and save it as a Qwen2-VL-style fast tokenizer.

    The Qwen2-VL special tokens are special (skipped on decode); the thought markers of
    :data:`THOUGHT_TOKENS` are added as normal tokens so decoded text keeps them. The eos token
    is ``<|im_end|>`` (as LLaMA-Factory's ``qwen2_vl`` template sets it), pad is ``<|endoftext|>``.
    """
    from transformers import PreTrainedTokenizerFast

    _offline()
    backend = train_byte_level_bpe(corpus, QWEN2VL_SPECIAL_TOKENS, vocab_size)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
        padding_side="left",
        model_max_length=32768,
        extra_special_tokens={"image_token": "<|image_pad|>", "video_token": "<|video_pad|>"},
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out_dir)


def _model_config(tokenizer, architecture: dict):
    """The Qwen2.5-VL config of the tiny model, with token ids taken from ``tokenizer``."""
    from transformers import Qwen2_5_VLConfig

    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in QWEN2VL_SPECIAL_TOKENS}
    arch = architecture
    head_dim = arch["hidden_size"] // arch["num_attention_heads"]
    if sum(arch["mrope_section"]) * 2 != head_dim:
        raise ValueError(f"mrope_section {arch['mrope_section']} must sum to head_dim/2 = {head_dim // 2}")
    text_config = {
        "vocab_size": len(tokenizer),
        "hidden_size": arch["hidden_size"],
        "intermediate_size": arch["intermediate_size"],
        "num_hidden_layers": arch["num_hidden_layers"],
        "num_attention_heads": arch["num_attention_heads"],
        "num_key_value_heads": arch["num_key_value_heads"],
        "max_position_embeddings": 4096,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": arch["mrope_section"]},
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
        "tie_word_embeddings": True,
    }
    vision_config = {
        "depth": arch["vision_depth"],
        "hidden_size": arch["vision_hidden_size"],
        "intermediate_size": arch["vision_intermediate_size"],
        "num_heads": arch["vision_num_heads"],
        "out_hidden_size": arch["hidden_size"],
        "fullatt_block_indexes": [arch["vision_depth"] - 1],
    }
    return Qwen2_5_VLConfig(
        text_config=text_config,
        vision_config=vision_config,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )


def build_processor(tokenizer_dir: Path):
    """The Qwen2.5-VL processor: tokenizer from ``tokenizer_dir`` + small-image processors."""
    from transformers import AutoTokenizer, Qwen2_5_VLProcessor, Qwen2VLImageProcessor
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    _offline()
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    image_processor = Qwen2VLImageProcessor(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
    video_processor = Qwen2VLVideoProcessor(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
    return Qwen2_5_VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=CHAT_TEMPLATE,
    )


def build_tiny_model(tokenizer_dir: Path, out_dir: Path, seed: int, architecture: dict | None = None) -> None:
    """Random-initialise a tiny Qwen2.5-VL and save it with its processor to ``out_dir``.

    Bit-for-bit deterministic per ``seed``: the weights are drawn on CPU under a fixed seed in
    float32. ``out_dir`` loads with ``AutoProcessor`` and ``AutoModelForImageTextToText``.
    """
    import torch
    from transformers import GenerationConfig, Qwen2_5_VLForConditionalGeneration

    _offline()
    processor = build_processor(tokenizer_dir)
    tokenizer = processor.tokenizer
    config = _model_config(tokenizer, {**TINY_ARCHITECTURE, **(architecture or {})})
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).to(torch.float32).eval()
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        eos_token_id=[tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.convert_tokens_to_ids("<|endoftext|>")],
        pad_token_id=tokenizer.pad_token_id,
    )
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)


def weights_hash(model_dir: Path) -> str:
    """SHA-256 over the tensors of ``model_dir`` (names and bytes, sorted): a determinism check."""
    import torch
    from safetensors import safe_open

    digest = hashlib.sha256()
    for path in sorted(Path(model_dir).glob("*.safetensors")):
        with safe_open(str(path), framework="pt") as handle:
            for name in sorted(handle.keys()):
                tensor = handle.get_tensor(name)
                digest.update(name.encode())
                digest.update(tensor.contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def build_tiny_qwen2_5_vl(
    out_dir: Path, seed: int, corpus: list[str], vocab_size: int = 2048, architecture: dict | None = None
) -> Path:
    """One call for a tiny Qwen2.5-VL folder: :func:`build_tokenizer` on ``corpus`` (in a
    temporary folder), then :func:`build_tiny_model` into ``out_dir``, which is returned.
    Deterministic per ``(seed, corpus)``."""
    import tempfile

    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory(prefix="tokenizer-") as tokenizer_dir:
        build_tokenizer(corpus, Path(tokenizer_dir), vocab_size=vocab_size)
        build_tiny_model(Path(tokenizer_dir), out_dir, seed, architecture)
    return out_dir
