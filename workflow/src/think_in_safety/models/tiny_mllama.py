"""A tiny Mllama (Llama-3.2-Vision) built offline: the second verified family of the study.

LLaVA-CoT (``Xkev/Llama-3.2V-11B-cot``) is a fine-tune of ``meta-llama/Llama-3.2-11B-Vision-Instruct``,
an Mllama: a Llama 3 decoder with cross-attention layers that read a tiled vision encoder. The
builder here writes a complete Hugging Face folder of that architecture with ~0.3 M parameters:
a byte-level BPE tokenizer trained on a small corpus (the pieces of :mod:`think_in_safety.models.zoo`)
with the Llama 3 special tokens, a chat template written here in the Llama-3.2-Vision layout,
an ``MllamaImageProcessor`` with 56-pixel tiles, random weights and a generation config.

The folder loads with ``AutoProcessor`` and ``AutoModelForImageTextToText`` and trains with
LLaMA-Factory's ``mllama`` template. Token ids follow the Llama 3 conventions where it matters:
``<|image|>`` is the last id, one past the language model's vocabulary (its embedding lives in
the 8 extra rows Mllama keeps), ``<|finetune_right_pad_id|>`` pads, ``<|eot_id|>`` ends a turn.
"""

from __future__ import annotations

from pathlib import Path

from think_in_safety.models import zoo

# What a hub stand-in needs to serve this folder under the real repository ids: the family's
# model type and architecture (as in the real config.json) and the repositories of the study.
FAMILY = {
    "model_type": "mllama",
    "architectures": ["MllamaForConditionalGeneration"],
    "processor_class": "MllamaProcessor",
    "llamafactory_template": "mllama",
    "hub_repos": ["meta-llama/Llama-3.2-11B-Vision-Instruct", "Xkev/Llama-3.2V-11B-cot"],
}

BOS_TOKEN = "<|begin_of_text|>"
EOS_TOKEN = "<|eot_id|>"  # end of a turn: the instruct models' eos token
PAD_TOKEN = "<|finetune_right_pad_id|>"
IMAGE_TOKEN = "<|image|>"

# The Llama 3 special tokens the chat format, LLaMA-Factory and the processor use, in Llama 3's
# order (the real vocabulary has 128,000 text tokens before them; here they take the first ids).
LLAMA3_SPECIAL_TOKENS = [
    BOS_TOKEN,
    "<|end_of_text|>",
    "<|reserved_special_token_0|>",
    "<|reserved_special_token_1|>",
    PAD_TOKEN,
    "<|step_id|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eom_id|>",
    EOS_TOKEN,
    "<|python_tag|>",
]

# The Llama-3.2-Vision chat layout as LLaMA-Factory's `mllama` template trains on it: the BOS
# token, then per message a role header, its parts (``<|image|>`` for an image part) and
# ``<|eot_id|>``; no default system message. One line without Jinja whitespace control, so
# every newline is a literal one.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n"
    "{% if message['content'] is string %}"
    "{{ message['content'] }}"
    "{% else %}"
    "{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}"
    "<|image|>"
    "{% elif part['type'] == 'text' %}"
    "{{ part['text'] }}"
    "{% endif %}"
    "{% endfor %}"
    "{% endif %}"
    "<|eot_id|>"
    "{% endfor %}"
    "{% if add_generation_prompt %}"
    "<|start_header_id|>assistant<|end_header_id|>\n\n"
    "{% endif %}"
)

# Image tiles of 56 x 56 pixels (4 patches of 14 a side), at most 4 tiles per image.
IMAGE_SIZE = 56
MAX_IMAGE_TILES = 4

# Text: hidden 64, 3 decoder layers of which layer 1 cross-attends to the image; vision: hidden
# 32, 2 local layers + 1 global layer, both local layers' states fed to the projector.
TINY_ARCHITECTURE = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 3,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "cross_attention_layers": [1],
    "vision_hidden_size": 32,
    "vision_intermediate_size": 64,
    "vision_num_hidden_layers": 2,
    "vision_num_global_layers": 1,
    "vision_attention_heads": 2,
    "vision_intermediate_layers_indices": [0, 1],
    "patch_size": 14,
}


def default_corpus() -> list[str]:
    """The tokenizer corpus when none is given: the demo chat data's questions and answers."""
    from think_in_safety.models import chat_data

    return chat_data.tokenizer_corpus(60, seed=0)


def build_tokenizer(corpus: list[str], vocab_size: int = 1024):
    """A Llama-3-style fast tokenizer trained on ``corpus`` (not saved).

    BOS is added by the tokenizer's post-processor (as Llama 3's does); the thought markers of
    :data:`think_in_safety.models.zoo.THOUGHT_TOKENS` are ordinary tokens; ``<|image|>`` is a
    special token with the last id.
    """
    from tokenizers import AddedToken, processors
    from transformers import PreTrainedTokenizerFast

    backend = zoo.train_byte_level_bpe(corpus, LLAMA3_SPECIAL_TOKENS, vocab_size)
    backend.add_special_tokens([AddedToken(IMAGE_TOKEN, special=True, normalized=False)])
    bos_id = backend.token_to_id(BOS_TOKEN)
    backend.post_processor = processors.TemplateProcessing(
        single=f"{BOS_TOKEN} $A:0",
        pair=f"{BOS_TOKEN} $A:0 {BOS_TOKEN} $B:1",
        special_tokens=[(BOS_TOKEN, bos_id)],
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS_TOKEN,
        eos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        unk_token=None,
        model_max_length=131072,
        extra_special_tokens={"image_token": IMAGE_TOKEN},
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_processor(tokenizer):
    """The Mllama processor: ``tokenizer`` + an image processor with tiny tiles."""
    from transformers import MllamaImageProcessor, MllamaProcessor

    image_processor = MllamaImageProcessor(
        size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}, max_image_tiles=MAX_IMAGE_TILES
    )
    return MllamaProcessor(image_processor=image_processor, tokenizer=tokenizer, chat_template=CHAT_TEMPLATE)


def model_config(tokenizer, architecture: dict):
    """The MllamaConfig of the tiny model, with token ids taken from ``tokenizer``."""
    from transformers import MllamaConfig

    arch = architecture
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in [*LLAMA3_SPECIAL_TOKENS, IMAGE_TOKEN]}
    if ids[IMAGE_TOKEN] != len(tokenizer) - 1:
        raise ValueError(f"{IMAGE_TOKEN} must have the last id ({len(tokenizer) - 1}), not {ids[IMAGE_TOKEN]}")
    layers = arch["vision_intermediate_layers_indices"]
    text_config = {
        "vocab_size": ids[IMAGE_TOKEN],  # the image token is not predicted (one past the vocabulary)
        "hidden_size": arch["hidden_size"],
        "intermediate_size": arch["intermediate_size"],
        "num_hidden_layers": arch["num_hidden_layers"],
        "num_attention_heads": arch["num_attention_heads"],
        "num_key_value_heads": arch["num_key_value_heads"],
        "cross_attention_layers": list(arch["cross_attention_layers"]),
        "max_position_embeddings": 4096,
        "rope_parameters": {"rope_type": "default", "rope_theta": 500000.0},
        "bos_token_id": ids[BOS_TOKEN],
        "eos_token_id": ids[EOS_TOKEN],
        "pad_token_id": ids[PAD_TOKEN],
        "tie_word_embeddings": False,
    }
    vision_config = {
        "hidden_size": arch["vision_hidden_size"],
        "intermediate_size": arch["vision_intermediate_size"],
        "num_hidden_layers": arch["vision_num_hidden_layers"],
        "num_global_layers": arch["vision_num_global_layers"],
        "attention_heads": arch["vision_attention_heads"],
        "intermediate_layers_indices": list(layers),
        # the projector reads the last state and every listed intermediate state, concatenated
        "vision_output_dim": arch["vision_hidden_size"] * (len(layers) + 1),
        "image_size": IMAGE_SIZE,
        "patch_size": arch["patch_size"],
        "max_num_tiles": MAX_IMAGE_TILES,
    }
    return MllamaConfig(text_config=text_config, vision_config=vision_config, image_token_index=ids[IMAGE_TOKEN])


def build_tiny_mllama(
    out_dir: str | Path,
    seed: int = 0,
    tokenizer_corpus: list[str] | None = None,
    vocab_size: int = 1024,
    architecture: dict | None = None,
) -> Path:
    """Write a random-initialised tiny Mllama with its processor to ``out_dir``; return it.

    ``tokenizer_corpus`` (default :func:`default_corpus`) trains the tokenizer. Bit-for-bit
    deterministic per ``(seed, corpus)``: the weights are drawn on CPU under a fixed seed in
    float32. Builds in about a second; ~1.5 MB on disk.
    """
    import torch
    from transformers import GenerationConfig, MllamaForConditionalGeneration

    corpus = list(tokenizer_corpus) if tokenizer_corpus is not None else default_corpus()
    processor = build_processor(build_tokenizer(corpus, vocab_size))
    tokenizer = processor.tokenizer
    config = model_config(tokenizer, {**TINY_ARCHITECTURE, **(architecture or {})})
    torch.manual_seed(seed)
    model = MllamaForConditionalGeneration(config).to(torch.float32).eval()
    ids = tokenizer.convert_tokens_to_ids
    model.generation_config = GenerationConfig(
        bos_token_id=ids(BOS_TOKEN),
        eos_token_id=[ids("<|end_of_text|>"), ids("<|eom_id|>"), ids(EOS_TOKEN)],
        pad_token_id=ids(PAD_TOKEN),
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir
