"""The vLLM backend: vLLM's offline engine behind the same :class:`~.generate.Backend` protocol
as the transformers backend, so sampling expansion, seeding, thought splitting, checkpoints and
resuming are shared (``generate.generate_responses(..., backend=VLLMBackend(...))``).

The prompt text comes from the model's own Hugging Face processor chat template, exactly as in
:class:`~.generate.TransformersBackend`, and images go in as ``multi_modal_data``; with greedy
decoding both backends therefore see the same tokens (``make test-vllm`` checks the outputs agree).
vLLM cannot share an environment with LLaMA-Factory (docs/stack.md): it runs in ``envs/vllm.yaml``
(``.venv-vllm`` for ``make test-vllm``), and is imported only when this backend is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from think_in_safety.models.generate import Output, Request, effective_decoding


def sampling_settings(decoding: dict, seed: int) -> dict:
    """vLLM ``SamplingParams`` keywords for our decoding settings (temperature 0: greedy)."""
    settings = effective_decoding(decoding)
    params = {"max_tokens": int(settings["max_new_tokens"]), "seed": int(seed)}
    if settings["do_sample"]:
        params.update(temperature=float(settings["temperature"]), top_p=float(settings["top_p"]))
        if "top_k" in settings:
            params["top_k"] = int(settings["top_k"])
    else:
        params.update(temperature=0.0, top_p=1.0)
    if "repetition_penalty" in settings:
        params["repetition_penalty"] = float(settings["repetition_penalty"])
    return params


@dataclass
class VLLMBackend:
    """vLLM offline engine: one ``LLM`` per model, batched multimodal generation."""

    model_path: str
    decoding: dict
    tensor_parallel_size: int = 1  # the registry's GPU count
    max_model_len: int | None = None
    max_images_per_prompt: int = 1
    image_root: Path | None = None
    engine_options: dict = field(default_factory=dict)  # any further vllm.LLM keyword

    def __post_init__(self) -> None:
        # model_path is a local folder (hub weights: their downloaded copy), so nothing reaches the hub
        from transformers import AutoProcessor
        from vllm import LLM

        self.processor = AutoProcessor.from_pretrained(self.model_path)
        self.tokenizer = self.processor.tokenizer
        options = {
            "model": self.model_path,
            "tensor_parallel_size": self.tensor_parallel_size,
            "limit_mm_per_prompt": {"image": self.max_images_per_prompt},
            **({"max_model_len": self.max_model_len} if self.max_model_len else {}),
            **self.engine_options,
        }
        self.engine = LLM(**options)

    def _inputs(self, request: Request) -> dict:
        from PIL import Image

        text = self.processor.apply_chat_template(request.messages(), add_generation_prompt=True, tokenize=False)
        root = self.image_root or Path(".")
        images = [Image.open(root / path).convert("RGB") for path in request.image_paths]
        return {"prompt": text, **({"multi_modal_data": {"image": images}} if images else {})}

    def generate(self, batch: list[Request], seed: int) -> list[Output]:
        from vllm import SamplingParams

        params = SamplingParams(**sampling_settings(self.decoding, seed))
        results = self.engine.generate([self._inputs(r) for r in batch], params, use_tqdm=False)
        outputs = []
        for result in results:
            completion = result.outputs[0]
            outputs.append(
                Output(
                    text=completion.text,
                    prompt_tokens=len(result.prompt_token_ids),
                    generated_tokens=len(completion.token_ids),
                    finished=completion.finish_reason == "stop",
                )
            )
        return outputs

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"]) if text else 0
