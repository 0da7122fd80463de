"""Response generation: prompts table in, responses table out, resumable.

The record keeping (sample expansion, chunking, seeding, splitting thoughts, token counts,
checkpoint shards, the final atomic write) is backend-independent. A backend only turns a chunk
of :class:`Request` into :class:`Output`; :class:`TransformersBackend` is the Hugging Face one
(CPU or one GPU). The vLLM and API backends implement the same :class:`Backend` protocol; vLLM
asks for large chunks (``preferred_chunk``) and seeds each request itself (docs/generation.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Protocol

import pandas as pd

from think_in_safety.models.thought import split_thought
from think_in_safety.tables import PROMPT_COLUMNS, RESPONSE_COLUMNS, check_columns

DECODING_DEFAULTS = {"max_new_tokens": 256, "temperature": 0.0, "top_p": 1.0}


@dataclass(frozen=True)
class Prompting:
    """How a model's authors prompt it (``models.<m>.system_prompt`` and ``prompt_template``),
    applied to every benchmark prompt when the requests are built (:func:`expand_requests`).

    System prompt: the model's and the benchmark's are both sent, the model's first and a blank
    line between them. The model's usually fixes the output format its thought is split by
    (e.g. VLAA-Thinker's ``<think>``/``<answer>`` tags), the benchmark's is part of the test
    condition; dropping either would change what is measured. Either alone is sent as it is.
    User text: ``prompt_template.format(prompt=...)`` (a ``str.format`` template with the single
    field ``{prompt}``; literal braces doubled), or the benchmark's prompt when there is none.
    """

    system_prompt: str = ""
    prompt_template: str | None = None

    def __post_init__(self) -> None:
        import string

        template = self.prompt_template
        if template is None:
            return
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
        except ValueError as error:
            raise ValueError(f"{template!r} is not a str.format template ({error}); double literal braces: "
                             "{{ and }}") from None
        if names != {"prompt"}:
            raise ValueError(f"{template!r} must have exactly one field, {{prompt}} (it has {sorted(names)}); "
                             "write literal braces as {{ and }}")

    def system(self, benchmark_system: str) -> str:
        """The system message sent: the model's, then the benchmark's (either may be empty)."""
        return "\n\n".join(part for part in (self.system_prompt, benchmark_system) if part)

    def user(self, prompt: str) -> str:
        """The user text sent for a benchmark ``prompt``."""
        return self.prompt_template.format(prompt=prompt) if self.prompt_template else prompt


@dataclass(frozen=True)
class Request:
    """One sample to generate: a chat of an optional system message and one user turn, as sent
    (the model's :class:`Prompting` already applied)."""

    id: str
    sample: int
    system_prompt: str
    prompt: str
    image_paths: tuple[str, ...] = ()

    def messages(self) -> list[dict]:
        """Chat messages in the Hugging Face multimodal format: images first, then the text."""
        content = [{"type": "image"} for _ in self.image_paths] + [{"type": "text", "text": self.prompt}]
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return system + [{"role": "user", "content": content}]


@dataclass(frozen=True)
class Output:
    """What a backend returns per request."""

    text: str  # decoded generation, special tokens removed
    prompt_tokens: int  # model input length, image tokens included
    generated_tokens: int  # new tokens, the end-of-sequence token included
    finished: bool  # ended on an end-of-sequence token (False: hit max_new_tokens)


class Backend(Protocol):
    """A generation engine: batched generation and token counting with the model's tokenizer.

    Two optional attributes, read with ``getattr``, tell :func:`generate_responses` how to feed it:

    ``preferred_chunk`` (int, or None for every sample of the job in one call): requests per
    :meth:`generate` call. An engine that batches continuously (vLLM) keeps the accelerator busy
    only when it is handed many more requests than it runs at once; a backend without the
    attribute (transformers, the API client) gets ``batch_size`` requests per call.

    ``seeds_per_request`` (bool): the backend seeds every request itself with
    :func:`request_seed` (run seed, id, sample), so it is handed the run's seed and its samples
    do not depend on how the requests were chunked. Without it, call ``b`` gets ``seed + b``.
    """

    def generate(self, batch: list[Request], seed: int) -> list[Output]: ...

    def count_tokens(self, text: str) -> int: ...


def request_seed(seed: int, request: Request) -> int:
    """A request's own sampling seed (0 .. 2**63-1) from the run's seed, its prompt id and its
    sample index only: the same whatever chunk, shard or resumed run the request lands in."""
    digest = hashlib.sha256(f"{seed}\x00{request.id}\x00{request.sample}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def chunk_size(backend: Backend | None, batch_size: int, total: int) -> int:
    """Requests per :meth:`Backend.generate` call: the backend's ``preferred_chunk`` (None: all
    ``total``), else ``batch_size`` (the transformers backend, built later, has none)."""
    if backend is None or not hasattr(backend, "preferred_chunk"):
        return max(1, int(batch_size))
    preferred = backend.preferred_chunk
    return max(1, int(total)) if preferred is None else max(1, int(preferred))


def effective_decoding(decoding: dict) -> dict:
    """Decoding settings with defaults filled in and ``do_sample`` derived (temperature 0: greedy)."""
    settings = {**DECODING_DEFAULTS, **decoding}
    settings["do_sample"] = float(settings["temperature"]) > 0
    return settings


@dataclass(frozen=True)
class ProcessorTraits:
    """What a multimodal processor accepts, found by calling it on a probe image.

    ``nested``: images as one list per text (Mllama needs this; Qwen2.5-VL takes either).
    ``mixed``: texts with images and texts without in one call (Mllama refuses: every text has
    an image or none has).
    """

    nested: bool
    mixed: bool


def sampling_settings(decoding: dict, seed: int) -> dict:
    """Engine keywords for our decoding settings (temperature 0: greedy): vLLM's
    ``SamplingParams`` and the OpenAI chat-completions body take the same names."""
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
class TransformersBackend:
    """Hugging Face transformers: AutoProcessor + AutoModelForImageTextToText, left-padded batches.

    A batch is rendered with the model's chat template and split into as few processor calls
    as the processor allows (:class:`ProcessorTraits`); outputs come back in request order.
    A rendered prompt that already starts with the tokenizer's BOS token is tokenised without
    special tokens, so it keeps exactly one. ``trust_remote_code``: run the code the model's
    repository ships (``models.<m>.trust_remote_code``).
    """

    model_path: str
    decoding: dict
    image_root: Path | None = None
    device: str = field(default="")
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        remote = self.trust_remote_code
        self.processor = AutoProcessor.from_pretrained(self.model_path, trust_remote_code=remote)
        self.tokenizer = self.processor.tokenizer
        self.tokenizer.padding_side = "left"
        self.model = AutoModelForImageTextToText.from_pretrained(
            self.model_path, dtype=self._dtype(torch), trust_remote_code=remote
        )
        self.model.to(self.device).eval()
        self.eos_ids = self._eos_ids()
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def _dtype(self, torch):
        name = self.decoding.get("dtype", "auto")
        if name == "auto":  # full precision on CPU, bf16 on GPU
            return torch.float32 if self.device == "cpu" else torch.bfloat16
        return getattr(torch, name)

    def _eos_ids(self) -> set[int]:
        configured = self.model.generation_config.eos_token_id
        ids = set(configured if isinstance(configured, list) else [configured] if configured is not None else [])
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        return ids

    def _load_images(self, request: Request) -> list:
        from PIL import Image

        root = self.image_root or Path(".")
        return [Image.open(root / path).convert("RGB") for path in request.image_paths]

    def _render(self, request: Request) -> str:
        try:
            return self.processor.apply_chat_template(request.messages(), add_generation_prompt=True, tokenize=False)
        except Exception as error:  # e.g. Llama-3.2-Vision's template refuses a system message with images
            raise ValueError(
                f"the chat template of {self.model_path} refused request {request.id!r} (system prompt: "
                f"{bool(request.system_prompt)}, images: {len(request.image_paths)}): {error}. Give this model "
                "prompts its template accepts (e.g. no system prompt with images) or another chat template."
            ) from error

    def _starts_with_bos(self, text: str) -> bool:
        """The rendered template already wrote BOS (Llama 3): the tokenizer must not add another."""
        bos = self.tokenizer.bos_token
        return bool(bos) and text.startswith(bos)

    def _processor_accepts(self, texts: list[str], images: list) -> bool:
        try:
            self.processor(text=texts, images=images, padding=True, return_tensors="pt")
        except (ValueError, TypeError, IndexError):
            return False
        return True

    @cached_property
    def traits(self) -> ProcessorTraits:
        """Probe the processor once (a blank 32 x 32 image, prompts rendered by the chat template)."""
        from PIL import Image

        image = Image.new("RGB", (32, 32), "white")
        with_image = self._render(Request("probe", 0, "", "probe", ("probe.png",)))
        without = self._render(Request("probe", 0, "", "probe"))
        nested = self._processor_accepts([with_image, with_image], [[image], [image]])
        mixed = self._processor_accepts([with_image, without], [[image], []] if nested else [image])
        return ProcessorTraits(nested=nested, mixed=mixed)

    def _groups(self, batch: list[Request], texts: list[str]) -> list[list[int]]:
        """Positions of ``batch`` per processor call: same BOS handling, and apart by having images
        when the processor refuses mixed calls. Groups in order of first appearance."""
        mixed = not any(r.image_paths for r in batch) or self.traits.mixed
        groups: dict[tuple[bool, bool], list[int]] = {}
        for position, (request, text) in enumerate(zip(batch, texts)):
            key = (self._starts_with_bos(text), mixed or bool(request.image_paths))
            groups.setdefault(key, []).append(position)
        return list(groups.values())

    def _inputs(self, batch: list[Request], texts: list[str]):
        """One processor call: left-padded tensors on the model's device."""
        per_request = [self._load_images(request) for request in batch]
        images = None
        if any(per_request):
            images = per_request if self.traits.nested else [image for group in per_request for image in group]
        inputs = self.processor(
            text=texts,
            images=images,
            padding=True,
            padding_side="left",
            add_special_tokens=not all(self._starts_with_bos(text) for text in texts),
            return_tensors="pt",
        )
        return inputs.to(self.device)

    def _generate_kwargs(self) -> dict:
        settings = effective_decoding(self.decoding)
        kwargs = {
            "max_new_tokens": int(settings["max_new_tokens"]),
            "do_sample": settings["do_sample"],
            "eos_token_id": sorted(self.eos_ids),
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if settings["do_sample"]:
            kwargs.update(temperature=float(settings["temperature"]), top_p=float(settings["top_p"]))
            if "top_k" in settings:
                kwargs["top_k"] = int(settings["top_k"])
        else:  # greedy: drop sampling knobs a checkpoint's generation_config may carry
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if "repetition_penalty" in settings:
            kwargs["repetition_penalty"] = float(settings["repetition_penalty"])
        return kwargs

    def _output(self, new_ids: list[int], prompt_tokens: int) -> Output:
        end = next((i for i, token in enumerate(new_ids) if token in self.eos_ids), None)
        kept = new_ids if end is None else new_ids[:end]
        text = self.tokenizer.decode(kept, skip_special_tokens=True, clean_up_tokenization_spaces=False)
        generated = len(new_ids) if end is None else end + 1
        return Output(text=text, prompt_tokens=prompt_tokens, generated_tokens=generated, finished=end is not None)

    def _generate_group(self, batch: list[Request], texts: list[str]) -> list[Output]:
        import torch

        inputs = self._inputs(batch, texts)
        with torch.inference_mode():
            sequences = self.model.generate(**inputs, **self._generate_kwargs())
        width = inputs["input_ids"].shape[1]
        prompt_lengths = inputs["attention_mask"].sum(dim=1).tolist()
        return [self._output(row[width:].tolist(), int(n)) for row, n in zip(sequences, prompt_lengths)]

    def generate(self, batch: list[Request], seed: int) -> list[Output]:
        """Outputs in the order of ``batch``; the groups of :meth:`_groups` run one after another
        under one seed."""
        import torch

        torch.manual_seed(seed)
        texts = [self._render(request) for request in batch]
        outputs: list[Output | None] = [None] * len(batch)
        for positions in self._groups(batch, texts):
            group = self._generate_group([batch[i] for i in positions], [texts[i] for i in positions])
            for position, output in zip(positions, group):
                outputs[position] = output
        return outputs

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"]) if text else 0


# ---------------------------------------------------------------------------------- records


def expand_requests(prompts: pd.DataFrame, prompting: Prompting | dict | None = None) -> list[Request]:
    """One :class:`Request` per (prompt row, sample index), in table order, with the model's
    ``prompting`` (a :class:`Prompting` or its keywords; None: the benchmark's prompts as they are)."""
    check_columns(
        prompts, {key: PROMPT_COLUMNS[key] for key in ("id", "prompt", "image_paths", "n_samples")}, "prompts"
    )
    if not isinstance(prompting, Prompting):
        prompting = Prompting(**(prompting or {}))
    requests = []
    for row in prompts.itertuples(index=False):
        system_prompt = prompting.system(getattr(row, "system_prompt", "") or "")
        prompt = prompting.user(str(row.prompt))
        paths = tuple(str(path) for path in (row.image_paths if row.image_paths is not None else ()))
        for sample in range(int(row.n_samples)):
            requests.append(Request(str(row.id), sample, system_prompt, prompt, paths))
    return requests


def prompting_record(request: Request) -> str:
    """The responses' ``prompting`` column: JSON of the text sent besides the images."""
    return json.dumps({"system": request.system_prompt, "user": request.prompt}, ensure_ascii=False)


def response_record(
    request: Request,
    output: Output,
    model_name: str,
    thought_format: str,
    decoding_json: str,
    seconds: float,
    backend: Backend,
) -> dict:
    """One row of the responses table (:data:`RESPONSE_COLUMNS`)."""
    thought, answer, has_thought = split_thought(output.text, thought_format)
    return {
        "id": request.id,
        "sample": request.sample,
        "model": model_name,
        "raw": output.text,
        "thought": thought,
        "answer": answer,
        "has_thought": has_thought,
        "prompt_tokens": output.prompt_tokens,
        "thought_tokens": backend.count_tokens(thought),
        "answer_tokens": backend.count_tokens(answer),
        "generated_tokens": output.generated_tokens,
        "finished": output.finished,
        "decoding": decoding_json,
        "seconds": seconds,
        "prompting": prompting_record(request),
    }


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write atomically: a temporary file in the same folder, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    frame.to_parquet(temporary, index=False)
    os.replace(temporary, path)


def load_checkpoint(checkpoint_dir: Path, model_name: str) -> pd.DataFrame:
    """Rows finished by an earlier, interrupted run of the same model (may be empty)."""
    shards = sorted(Path(checkpoint_dir).glob("shard-*.parquet")) if checkpoint_dir.exists() else []
    if not shards:
        return pd.DataFrame(columns=list(RESPONSE_COLUMNS))
    done = pd.concat([pd.read_parquet(shard) for shard in shards], ignore_index=True)
    done = done[done["model"] == model_name]
    return done.drop_duplicates(subset=["id", "sample"], keep="last")


def make_backend(name: str, weights: str, decoding: dict, engine: dict, threads: int) -> Backend | None:
    """The backend the registry names (``models.<m>.backend`` or ``generation.backend``).

    ``vllm`` builds the engine now (its own environment, envs/vllm.yaml); ``openai`` builds the
    API client (:mod:`~.openai_backend`; ``engine`` holds its registry settings, ``weights`` is
    unused) and reads its API key now; ``transformers`` returns None so that
    :func:`generate_responses` loads the model only if a batch is left.
    """
    if name == "vllm":
        from think_in_safety.models.vllm_backend import VLLMBackend

        return VLLMBackend(weights, dict(decoding), **dict(engine))
    if name == "openai":
        from think_in_safety.models.openai_backend import OpenAIBackend

        return OpenAIBackend(decoding=dict(decoding), **dict(engine))
    if name != "transformers":
        raise ValueError(f"unknown generation backend {name!r}: use 'transformers', 'vllm' or 'openai'")
    import torch

    torch.set_num_threads(threads)
    return None


def generate_responses(
    prompts: pd.DataFrame,
    model_name: str,
    model_path: str,
    thought_format: str,
    decoding: dict,
    out_path: Path,
    batch_size: int = 8,
    seed: int = 0,
    checkpoint_dir: Path | None = None,
    log: Callable[[str], None] = print,
    backend: Backend | None = None,
    prompting: Prompting | dict | None = None,
    trust_remote_code: bool = False,
) -> pd.DataFrame:
    """Generate every sample of ``prompts`` with one model and write the responses table.

    ``prompting``: the model's system prompt and prompt template (:class:`Prompting`), applied to
    every request; ``trust_remote_code``: for the default transformers backend.

    Calls take fixed chunks of the expanded (id, sample) list: ``batch_size`` requests, or the
    backend's ``preferred_chunk`` (:func:`chunk_size`; vLLM: ``generation.chunk_size``). Chunk
    ``b`` is seeded with ``seed + b``, so a resumed run redraws exactly the chunks it had not
    finished; a backend with ``seeds_per_request`` gets ``seed`` and seeds each request from
    (seed, id, sample) (:func:`request_seed`), so its samples do not depend on the chunking at all.
    Finished rows are appended to ``checkpoint_dir`` (default ``out_path.with_suffix('.partial')``)
    after every chunk and skipped on restart; the folder is removed after the final, atomic
    write. ``backend`` defaults to a :class:`TransformersBackend` of ``model_path`` (built only if
    needed).
    """
    out_path = Path(out_path)
    checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else out_path.with_suffix(".partial")
    requests = expand_requests(prompts, prompting)
    done = load_checkpoint(checkpoint_dir, model_name)
    done_keys = set(zip(done["id"].astype(str), done["sample"].astype(int)))
    settings = effective_decoding(decoding)
    decoding_json = json.dumps(settings, sort_keys=True)
    size = chunk_size(backend, batch_size, len(requests))
    chunks = [requests[start : start + size] for start in range(0, len(requests), size)]
    todo_total = sum(1 for r in requests if (r.id, r.sample) not in done_keys)
    log(
        f"{model_name}: {len(requests)} samples, {len(done_keys)} from checkpoint, {todo_total} to generate "
        f"in chunks of {size}"
    )
    rows = [done]
    for index, chunk in enumerate(chunks):
        todo = [request for request in chunk if (request.id, request.sample) not in done_keys]
        if not todo:
            continue
        if backend is None:
            backend = TransformersBackend(model_path, settings, trust_remote_code=trust_remote_code)
        call_seed = seed if getattr(backend, "seeds_per_request", False) else seed + index
        started = time.perf_counter()
        outputs = backend.generate(todo, call_seed)
        seconds = (time.perf_counter() - started) / len(todo)
        shard = pd.DataFrame(
            [
                response_record(r, o, model_name, thought_format, decoding_json, seconds, backend)
                for r, o in zip(todo, outputs)
            ]
        )
        # a unique name per write: a resumed chunk never overwrites the rows an earlier run kept
        _write_parquet(shard, checkpoint_dir / f"shard-{index:06d}-{uuid.uuid4().hex[:8]}.parquet")
        rows.append(shard)
        log(f"{model_name}: chunk {index + 1}/{len(chunks)}, {len(todo)} samples, {seconds:.3f} s/sample")
    return _finish(rows, requests, out_path, checkpoint_dir)


def order_responses(rows: list[pd.DataFrame], requests: list[Request]) -> pd.DataFrame:
    """The responses table of ``requests``: rows in request order (rows of other requests dropped),
    the columns and types of :data:`RESPONSE_COLUMNS`."""
    filled = [row for row in rows if len(row)]
    frame = pd.concat(filled, ignore_index=True) if filled else pd.DataFrame(columns=list(RESPONSE_COLUMNS))
    order = {(r.id, r.sample): position for position, r in enumerate(requests)}
    frame = frame.assign(_order=[order.get((str(i), int(s)), len(order)) for i, s in zip(frame["id"], frame["sample"])])
    frame = frame[frame["_order"] < len(order)].sort_values("_order").drop(columns="_order").reset_index(drop=True)
    frame = check_columns(frame, RESPONSE_COLUMNS, "responses")[list(RESPONSE_COLUMNS)]
    frame = frame.astype(
        {
            "id": str,
            "sample": int,
            "has_thought": bool,
            "finished": bool,
            "prompt_tokens": int,
            "thought_tokens": int,
            "answer_tokens": int,
            "generated_tokens": int,
            "seconds": float,
        }
    )
    return frame


def _finish(rows: list[pd.DataFrame], requests: list[Request], out_path: Path, checkpoint_dir: Path) -> pd.DataFrame:
    """Order rows as the requests, check the contract, write ``out_path``, drop the checkpoint."""
    frame = order_responses(rows, requests)
    _write_parquet(frame, out_path)
    shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return frame
