"""An LLM judge run in-process with Hugging Face transformers (a local directory or a hub id).

For a judge model on the same machine as the workflow and no server: the same protocols, cache
and audit columns as the endpoint judge (:mod:`.llm`), greedy decoding, batches of
``batch_size`` calls. Multimodal models (``AutoModelForImageTextToText``) are shown the images of
the protocols that show them (SIUO); text-only models (``AutoModelForCausalLM``) are used for
the text protocols, and a call with images then fails on its row with the reason.

The cache key's endpoint is ``transformers:<fingerprint>``: for a local directory a digest of
its files' names, sizes and modification times (rebuilt weights are not served stale replies),
for hub weights pinned at a ``revision`` ``<org>/<name>@<revision>`` (they load from their local
copy, resources/hub/<org>/<name>/<revision>, which the download_model rule fetches), for an
unpinned hub id the id itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from think_in_safety.hub import hub_repo, snapshot_dir
from think_in_safety.judges.cache import DEFAULT_CACHE_PATH
from think_in_safety.judges.llm import CallFailure, Completion, JudgeEndpointError, PreparedCall, ProtocolJudge


def weights_fingerprint(location: str) -> str:
    """A short digest of a local model directory's files (name, size, mtime); the id for a hub id."""
    directory = Path(location)
    if not directory.is_dir():
        return location
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(directory)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


class TransformersJudge(ProtocolJudge):
    """Each benchmark's judge protocol on a transformers model loaded in this process.

    Parameters (besides :class:`~.llm.ProtocolJudge`'s)
    ----------
    model:
        A local directory or ``hf:<org>/<name>`` (a Hugging Face id).
    revision:
        For ``hf:`` models, the pinned commit: the model loads from its local copy
        (:func:`think_in_safety.hub.snapshot_dir`). Without it a hub id is handed to transformers.
    max_new_tokens:
        Reply budget (SIUO's judge writes its reasons first).
    batch_size:
        Calls per generation batch.
    dtype:
        ``auto`` (float32 on CPU, bfloat16 on GPU) or a torch dtype name.
    device:
        ``''`` picks CUDA when available, else CPU.
    gpus:
        GPUs the judging job requests from the scheduler (its ``gpu`` resource); not used here.
    """

    backend = "transformers"

    def __init__(self, name: str, *, model: str, max_new_tokens: int = 512, batch_size: int = 4, dtype: str = "auto",
                 device: str = "", gpus: int = 0, protocols=None, siuo_effectiveness: bool = True,
                 cache: str | None = DEFAULT_CACHE_PATH, max_error_fraction: float = 0.05,
                 judge_target: str = "answer", empty_answer: str = "raw", revision: str | None = None) -> None:
        super().__init__(name, protocols=protocols, siuo_effectiveness=siuo_effectiveness, cache=cache,
                         max_error_fraction=max_error_fraction, judge_target=judge_target, empty_answer=empty_answer)
        self.revision = revision
        if model.startswith("hf:") and revision:
            self.location = snapshot_dir(hub_repo(model), revision)
            self._model_name = f"{model}@{revision}"
        else:
            self.location = model[len("hf:"):] if model.startswith("hf:") else model
            self._model_name = model
        self.max_new_tokens = int(max_new_tokens)
        self.batch_size = max(1, int(batch_size))
        self.dtype = dtype
        self.device = device
        self.gpus = int(gpus)
        self._loaded = None
        self._endpoint: str | None = None

    @property
    def model(self) -> str:
        return self._model_name

    @property
    def endpoint(self) -> str:  # type: ignore[override]
        if self._endpoint is None:
            pinned = self._model_name[len("hf:"):] if self.revision else None
            self._endpoint = f"transformers:{pinned or weights_fingerprint(self.location)}"
        return self._endpoint

    def settings(self) -> dict:
        return {"decoding": "greedy", "max_new_tokens": self.max_new_tokens}

    # ------------------------------------------------------------------ model
    def _load(self):
        if self._loaded is not None:
            return self._loaded
        if self.revision and not Path(self.location).is_dir():
            raise JudgeEndpointError(
                f"judge {self.name!r}: the local copy {self.location} of {self.model} is missing; it is written "
                f"by the download_model rule (snakemake {self.location}.manifest.json)")
        import torch
        from transformers import (
            AutoModelForCausalLM,
            AutoModelForImageTextToText,
            AutoProcessor,
            AutoTokenizer,
        )

        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        if self.dtype == "auto":  # full precision on CPU, bf16 on GPU
            dtype = torch.float32 if device == "cpu" else torch.bfloat16
        else:
            dtype = getattr(torch, self.dtype)
        try:
            try:
                model = AutoModelForImageTextToText.from_pretrained(self.location, dtype=dtype)
                processor = AutoProcessor.from_pretrained(self.location)
                tokenizer, multimodal = processor.tokenizer, True
            except ValueError:  # not an image-text-to-text architecture: a text-only judge
                model = AutoModelForCausalLM.from_pretrained(self.location, dtype=dtype)
                processor = tokenizer = AutoTokenizer.from_pretrained(self.location)
                multimodal = False
        except (OSError, ValueError) as exc:
            raise JudgeEndpointError(
                f"judge {self.name!r}: cannot load the judge model {self.model!r} ({type(exc).__name__}: {exc}); "
                "set judges.<name>.model to a local model directory, or to hf:<org>/<name> with judges.<name>.revision "
                "(the workflow downloads it first)"
            ) from exc
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        model.to(device).eval()
        configured = model.generation_config.eos_token_id
        eos = set(configured if isinstance(configured, list) else [configured] if configured is not None else [])
        if tokenizer.eos_token_id is not None:
            eos.add(tokenizer.eos_token_id)
        self._loaded = (model, processor, tokenizer, multimodal, device, sorted(eos))
        return self._loaded

    def _chat(self, item: PreparedCall, multimodal: bool) -> list[dict]:
        messages = []
        for message in item.call.messages:
            if multimodal:
                content = [{"type": "image"} if part.kind == "image" else {"type": "text", "text": part.value}
                           for part in message.parts]
            else:
                if any(part.kind == "image" for part in message.parts):
                    raise ValueError(f"judge model {self.model!r} is text-only but the {item.call.prompt_version} "
                                     "prompt shows the judge an image; use a multimodal judge for this benchmark")
                content = message.text()
            messages.append({"role": message.role, "content": content})
        return messages

    def _generate(self, batch: list[PreparedCall]) -> list[str]:
        import io

        import torch
        from PIL import Image

        model, processor, tokenizer, multimodal, device, eos = self._load()
        chats = [self._chat(item, multimodal) for item in batch]
        texts = [processor.apply_chat_template(chat, add_generation_prompt=True, tokenize=False) for chat in chats]
        if multimodal:
            images = [Image.open(io.BytesIO(item.images[path])).convert("RGB")
                      for item in batch for path in item.call.image_paths()]
            inputs = processor(text=texts, images=images or None, padding=True, return_tensors="pt")
        else:
            inputs = tokenizer(texts, padding=True, return_tensors="pt", add_special_tokens=False)
        inputs = inputs.to(device)
        with torch.inference_mode():
            sequences = model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False,
                                       temperature=None, top_p=None, top_k=None, eos_token_id=eos,
                                       pad_token_id=tokenizer.pad_token_id)
        width = inputs["input_ids"].shape[1]
        return [tokenizer.decode(row[width:], skip_special_tokens=True).strip() for row in sequences]

    def complete_calls(self, calls: list[PreparedCall]) -> Iterator[tuple[PreparedCall, Completion | CallFailure]]:
        if calls:
            self._load()  # a model that cannot load stops the run (JudgeEndpointError)
        for start in range(0, len(calls), self.batch_size):
            batch = calls[start:start + self.batch_size]
            try:
                replies = self._generate(batch)
            except (ValueError, RuntimeError, OSError) as exc:  # a bad batch is recorded on its rows
                if len(batch) > 1:  # find the culprit: one by one
                    for item in batch:
                        yield from self.complete_calls([item])
                    continue
                yield batch[0], CallFailure(f"{type(exc).__name__}: {exc}", 1)
                continue
            for item, reply in zip(batch, replies):
                yield item, Completion(reply, 1)
