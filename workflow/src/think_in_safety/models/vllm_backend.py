"""The vLLM backend: vLLM's offline engine behind the same :class:`~.generate.Backend` protocol
as the transformers backend (:mod:`~.protocol`), so sampling expansion, seeding, thought splitting, checkpoints and
resuming are shared (``generate.generate_responses(..., backend=VLLMBackend(...))``).

The prompt text comes from the model's own Hugging Face processor chat template, exactly as in
:class:`~.generate.TransformersBackend`, and images go in as ``multi_modal_data``; with greedy
decoding both backends therefore see the same tokens (``make test-vllm`` checks the outputs agree).
vLLM cannot share an environment with LLaMA-Factory (docs/stack.md): it runs in ``envs/vllm.yaml``
(``.venv-vllm`` for ``make test-vllm``), and is imported only when this backend is built.

vLLM's offline engine batches continuously over every request of one ``generate`` call, so the
backend asks for large chunks (``preferred_chunk``: ``generation.chunk_size``); each request
carries its own sampling seed from (run seed, id, sample), so outputs do not depend on the
chunking (docs/generation.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from think_in_safety.models.protocol import Output, Request, request_seed, sampling_settings

# Requests per generate call (generation.chunk_size): many times what the engine runs at once
# (vLLM's max_num_seqs, 256 to 1024), so the tail of each call, where few long answers are left
# running, is a small share of it; also the rows a killed job loses at most.
DEFAULT_CHUNK = 1024


@dataclass
class VLLMBackend:
    """vLLM offline engine: one ``LLM`` per model, continuously batched multimodal generation.

    ``chunk_size`` requests go to the engine per call (None: all of the job's samples at once);
    every request is sampled with its own seed, :func:`~.generate.request_seed`.
    """

    model_path: str
    decoding: dict
    tensor_parallel_size: int = 1  # the registry's GPU count, on one node
    max_model_len: int | None = None
    max_images_per_prompt: int = 1
    image_root: Path | None = None
    chunk_size: int | None = DEFAULT_CHUNK
    engine_options: dict = field(default_factory=dict)  # any further vllm.LLM keyword (models.<m>.engine)
    trust_remote_code: bool = False  # models.<m>.trust_remote_code: processor and engine run the repo's code
    seeds_per_request: ClassVar[bool] = True

    def __post_init__(self) -> None:
        # model_path is a local folder (hub weights: their downloaded copy), so nothing reaches the hub
        from transformers import AutoProcessor
        from vllm import LLM

        self.processor = AutoProcessor.from_pretrained(self.model_path, trust_remote_code=self.trust_remote_code)
        self.tokenizer = self.processor.tokenizer
        options = {
            "model": self.model_path,
            "trust_remote_code": self.trust_remote_code,
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

    @property
    def preferred_chunk(self) -> int | None:
        """Requests per call (:func:`~.generate.chunk_size`)."""
        return self.chunk_size

    def sampling(self, request: Request, seed: int) -> dict:
        """``SamplingParams`` keywords of one request: the decoding settings and its own seed."""
        return sampling_settings(self.decoding, request_seed(seed, request))

    def generate(self, batch: list[Request], seed: int) -> list[Output]:
        """Outputs in the order of ``batch``, all of it in one engine call; ``seed`` is the run's."""
        from vllm import SamplingParams

        params = [SamplingParams(**self.sampling(request, seed)) for request in batch]
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

    def sample_settings(self) -> dict:
        """The engine settings that change a sample (part of the checkpoint key): not the chunk
        size or the GPU count, which only change how fast the samples come."""
        return {"backend": "vllm", "max_model_len": self.max_model_len,
                "max_images_per_prompt": self.max_images_per_prompt, "engine_options": dict(self.engine_options),
                "trust_remote_code": bool(self.trust_remote_code)}
