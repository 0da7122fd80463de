"""Response generation: prompts table in, responses table out, resumable.

The record keeping (sample expansion, chunking, seeding, splitting thoughts, token counts,
checkpoint shards, the final atomic write) is backend-independent. A backend only turns a chunk
of :class:`Request` into :class:`Output`; :class:`TransformersBackend` is the Hugging Face one
(CPU or one GPU). The vLLM and API backends implement the same :class:`Backend` protocol
(:mod:`~.protocol`, which they import instead of this module) and are built by name by
:func:`~.backends.make_backend`; vLLM asks for large chunks (``preferred_chunk``) and seeds each
request itself (docs/generation.md). Checkpoint rows are reused only for the same samples
(:class:`SampleKeys`).
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

import pandas as pd

from think_in_safety.config import check_prompt_template
from think_in_safety.hub import check_weights_folder
from think_in_safety.models.backends import make_backend  # noqa: F401  (the rules' entry point, kept here)
from think_in_safety.models.protocol import (  # noqa: F401  (re-exported: the backends' shared records)
    DECODING_DEFAULTS,
    Backend,
    Output,
    Request,
    effective_decoding,
    request_seed,
    sampling_settings,
)
from think_in_safety.models.thought import split_thought
from think_in_safety.tables import PROMPT_COLUMNS, RESPONSE_COLUMNS, check_columns


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
        check_prompt_template(self.prompt_template)

    def system(self, benchmark_system: str) -> str:
        """The system message sent: the model's, then the benchmark's (either may be empty)."""
        return "\n\n".join(part for part in (self.system_prompt, benchmark_system) if part)

    def user(self, prompt: str) -> str:
        """The user text sent for a benchmark ``prompt``."""
        return self.prompt_template.format(prompt=prompt) if self.prompt_template else prompt


def chunk_size(backend: Backend | None, batch_size: int, total: int) -> int:
    """Requests per :meth:`Backend.generate` call: the backend's ``preferred_chunk`` (None: all
    ``total``), else ``batch_size`` (the transformers backend, built later, has none)."""
    if backend is None or not hasattr(backend, "preferred_chunk"):
        return max(1, int(batch_size))
    preferred = backend.preferred_chunk
    return max(1, int(total)) if preferred is None else max(1, int(preferred))


@dataclass(frozen=True)
class ProcessorTraits:
    """What a multimodal processor accepts, found by calling it on a probe image.

    ``nested``: images as one list per text (Mllama needs this; Qwen2.5-VL takes either).
    ``mixed``: texts with images and texts without in one call (Mllama refuses: every text has
    an image or none has).
    """

    nested: bool
    mixed: bool


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

    def sample_settings(self) -> dict:
        """What besides the weights and decoding changes a sample (:class:`Backend`)."""
        return {"backend": "transformers", "trust_remote_code": bool(self.trust_remote_code)}


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


# ------------------------------------------------------------------------------ checkpoint keys
#
# A checkpoint row is reused on resume only when it is a sample the current run would draw: same
# model weights, backend, decoding, seed and thought format (the run's settings, keyed once per
# run), and the same prompt text, images and draw seed (keyed once per request). Rows of other
# settings are left out and the log says how many and what changed; they are never mixed in.

#: Columns a checkpoint shard carries besides :data:`RESPONSE_COLUMNS` (dropped from the table).
CHECKPOINT_KEY_COLUMNS = ("run_key", "sample_key")
#: Bytes read from each end of a weights file larger than this for its fingerprint.
FINGERPRINT_SPAN = 1 << 20


def _digest(value: object) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def weights_identity(model_path: str | Path) -> dict:
    """What identifies the weights at ``model_path``: the download manifest's digest (hub weights:
    repository, commit and every file's checksum), else a fingerprint of a local folder (every
    file's path and size, small files' bytes, the first and last MiB of large ones), else the
    path as given (an API model, a folder not on this machine)."""
    path = Path(model_path)
    manifest = path.with_name(path.name + ".manifest.json")
    if manifest.is_file():
        data = json.loads(manifest.read_text(encoding="utf-8"))
        return {"repo": data.get("repo"), "revision": data.get("revision"), "digest": data.get("digest")}
    if not path.is_dir():
        return {"path": str(model_path)}
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file() and ".cache" not in p.relative_to(path).parts):
        size = file.stat().st_size
        digest.update(f"{file.relative_to(path).as_posix()}\x00{size}\x00".encode())
        with open(file, "rb") as handle:
            if size <= 2 * FINGERPRINT_SPAN:
                digest.update(handle.read())
            else:
                digest.update(handle.read(FINGERPRINT_SPAN))
                handle.seek(size - FINGERPRINT_SPAN)
                digest.update(handle.read(FINGERPRINT_SPAN))
    return {"fingerprint": digest.hexdigest()}


def backend_settings(backend: Backend | None, trust_remote_code: bool = False) -> dict:
    """The backend's settings that change a sample (:class:`Backend`'s ``sample_settings``);
    None is the transformers backend :func:`generate_responses` builds."""
    if backend is None:
        return {"backend": "transformers", "trust_remote_code": bool(trust_remote_code)}
    own = getattr(backend, "sample_settings", None)
    if callable(own):
        return dict(own())
    return {"backend": f"{type(backend).__module__}.{type(backend).__qualname__}"}


@dataclass(frozen=True)
class SampleKeys:
    """The keys of one run: ``settings`` (what every sample of the run shares), ``run_key`` (their
    digest) and :meth:`of` a request (its text, images and draw seed under those settings)."""

    settings: dict
    image_root: Path = Path(".")
    _images: dict = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def run_key(self) -> str:
        return _digest(self.settings)

    def _image(self, path: str) -> str:
        if path not in self._images:
            try:
                self._images[path] = hashlib.sha256((self.image_root / path).read_bytes()).hexdigest()
            except OSError:  # the backend will fail on it; the key still names the path
                self._images[path] = f"unreadable:{path}"
        return self._images[path]

    def of(self, request: Request, draw_seed: int | None) -> str:
        """The key of ``request``, drawn with ``draw_seed`` (None: greedy, the seed does not matter)."""
        return _digest([self.run_key, request.id, request.sample, request.system_prompt, request.prompt,
                        [(path, self._image(path)) for path in request.image_paths], draw_seed])


def run_settings(model_name: str, model_path: str | Path, thought_format: str, decoding: dict, seed: int,
                 backend: Backend | None, trust_remote_code: bool = False) -> dict:
    """Everything besides the request that defines the samples of a run (:class:`SampleKeys`)."""
    return {
        "model": model_name,
        "weights": weights_identity(model_path),
        "backend": backend_settings(backend, trust_remote_code),
        "decoding": effective_decoding(decoding),
        "seed": int(seed),
        "thought_format": thought_format,
    }


def _changes(old: object, new: object, prefix: str = "") -> list[str]:
    """``key: old -> new`` for every setting that differs (nested keys joined with dots)."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new), key=str):
            found += _changes(old.get(key, "<unset>"), new.get(key, "<unset>"), f"{prefix}{key}.")
        return found
    return [] if old == new else [f"{prefix.rstrip('.')}: {json.dumps(old, default=str)} -> "
                                  f"{json.dumps(new, default=str)}"]


def _run_file(checkpoint_dir: Path, run_key: str) -> Path:
    return Path(checkpoint_dir) / f"run-{run_key[:16]}.json"


def read_checkpoint(checkpoint_dir: Path) -> pd.DataFrame:
    """Every row of every shard in ``checkpoint_dir`` (none: an empty table)."""
    shards = sorted(Path(checkpoint_dir).glob("shard-*.parquet")) if Path(checkpoint_dir).exists() else []
    if not shards:
        return pd.DataFrame(columns=[*RESPONSE_COLUMNS, *CHECKPOINT_KEY_COLUMNS])
    return pd.concat([pd.read_parquet(shard) for shard in shards], ignore_index=True)


def load_checkpoint(checkpoint_dir: Path, model_name: str, expected: dict[tuple[str, int], str] | None = None,
                    keys: SampleKeys | None = None) -> pd.DataFrame:
    """The rows of :func:`checkpoint_rows` (without the reasons for the ones left out)."""
    return checkpoint_rows(checkpoint_dir, model_name, expected, keys)[0]


def checkpoint_rows(checkpoint_dir: Path, model_name: str, expected: dict[tuple[str, int], str] | None = None,
                    keys: SampleKeys | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Rows an earlier, interrupted run finished that this run can reuse, and why any others
    were left out (one sentence per reason, with its count).

    ``expected``: (id, sample) -> :meth:`SampleKeys.of` of this run; a row is reused only when its
    ``sample_key`` is that key. ``keys``: this run's, to say which settings changed.
    """
    checkpoint_dir = Path(checkpoint_dir)
    done = read_checkpoint(checkpoint_dir)
    reasons: list[str] = []
    if done.empty:
        return done, reasons
    other_model = done["model"] != model_name
    if other_model.any():
        reasons.append(f"{int(other_model.sum())} rows of another model "
                       f"({sorted(set(done.loc[other_model, 'model']))})")
    done = done[~other_model]
    if expected is None:
        return done.drop_duplicates(subset=["id", "sample"], keep="last"), reasons
    if "sample_key" not in done.columns:
        done = done.assign(sample_key=None, run_key=None)
    wanted = [expected.get((str(i), int(s))) for i, s in zip(done["id"], done["sample"])]
    match = pd.Series([key is not None and key == got for key, got in zip(wanted, done["sample_key"])],
                      index=done.index, dtype=bool)
    stale = done[~match]
    if len(stale):
        unkeyed = stale["sample_key"].isna()
        if unkeyed.any():
            reasons.append(f"{int(unkeyed.sum())} rows written without the settings they were generated with (an "
                           "older checkpoint format)")
        current = keys.run_key if keys is not None else None
        for run_key, group in stale[~unkeyed].groupby("run_key", sort=True):
            outside = sum(1 for i, s in zip(group["id"], group["sample"]) if (str(i), int(s)) not in expected)
            if run_key == current:
                if outside:
                    reasons.append(f"{outside} rows of samples this prompts table no longer has")
                if len(group) - outside:
                    reasons.append(f"{len(group) - outside} rows whose prompt text, images or draw seed changed")
                continue
            recorded = _run_file(checkpoint_dir, str(run_key))
            if keys is not None and recorded.is_file():
                changed = _changes(json.loads(recorded.read_text(encoding="utf-8")), keys.settings)
                why = "; ".join(changed) or "settings changed"
            else:
                why = "settings not recorded"
            reasons.append(f"{len(group)} rows generated with other settings ({why})")
    kept = done[match].drop_duplicates(subset=["id", "sample"], keep="last")
    return kept, reasons


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
    warn: Callable[[str], None] | None = None,
    keep_checkpoint: bool = False,
    loaded: dict | None = None,
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
    after every chunk, each with its :class:`SampleKeys` key, and reused on restart only where the
    key is the one this run would give it (same weights, backend, decoding, seed, thought format,
    prompt text, images and draw seed); the others are left out and ``warn`` (default ``log``)
    says how many and what changed. The folder is removed after the final, atomic write, unless
    ``keep_checkpoint``: then it keeps exactly this table's rows and keys (one shard), so that a
    later run with the same settings reuses them instead of generating them again
    (:func:`generate_tables`). ``backend`` defaults to a :class:`TransformersBackend` of
    ``model_path``, built only if needed; ``loaded`` (a dict the caller keeps) holds it for the
    next call with the same model, so a job that generates several tables loads the model once.
    """
    warn = warn or log
    out_path = Path(out_path)
    checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else out_path.with_suffix(".partial")
    requests = expand_requests(prompts, prompting)
    settings = effective_decoding(decoding)
    decoding_json = json.dumps(settings, sort_keys=True)
    size = chunk_size(backend, batch_size, len(requests))
    chunks = [requests[start : start + size] for start in range(0, len(requests), size)]
    per_request = bool(getattr(backend, "seeds_per_request", False))

    def call_seed(index: int) -> int:
        return seed if per_request else seed + index

    def draw_seed(index: int, request: Request) -> int | None:
        if not settings["do_sample"]:
            return None
        return request_seed(seed, request) if per_request else call_seed(index)

    keys = SampleKeys(run_settings(model_name, model_path, thought_format, decoding, seed, backend,
                                   trust_remote_code),
                      Path(getattr(backend, "image_root", None) or "."))
    expected = {(r.id, r.sample): keys.of(r, draw_seed(index, r)) for index, chunk in enumerate(chunks) for r in chunk}
    done, reasons = checkpoint_rows(checkpoint_dir, model_name, expected, keys)
    if reasons:
        warn(f"{model_name}: checkpoint rows in {checkpoint_dir} left out, to be generated again: "
             f"{'; '.join(reasons)}. Only samples of this run's settings are reused (they stay in the folder "
             "until this run finishes).")
    done_keys = set(zip(done["id"].astype(str), done["sample"].astype(int)))
    todo_total = sum(1 for r in requests if (r.id, r.sample) not in done_keys)
    log(
        f"{model_name}: {len(requests)} samples, {len(done_keys)} from checkpoint, {todo_total} to generate "
        f"in chunks of {size}"
    )
    run_file = _run_file(checkpoint_dir, keys.run_key)
    rows = [done]
    for index, chunk in enumerate(chunks):
        todo = [request for request in chunk if (request.id, request.sample) not in done_keys]
        if not todo:
            continue
        if backend is None:
            backend = _transformers_backend(model_name, model_path, settings, trust_remote_code, loaded)
        _write_run_file(run_file, keys)
        started = time.perf_counter()
        outputs = backend.generate(todo, call_seed(index))
        seconds = (time.perf_counter() - started) / len(todo)
        shard = pd.DataFrame(
            [
                {
                    **response_record(r, o, model_name, thought_format, decoding_json, seconds, backend),
                    "run_key": keys.run_key,
                    "sample_key": expected[(r.id, r.sample)],
                }
                for r, o in zip(todo, outputs)
            ]
        )
        # a unique name per write: a resumed chunk never overwrites the rows an earlier run kept
        _write_parquet(shard, checkpoint_dir / f"shard-{index:06d}-{uuid.uuid4().hex[:8]}.parquet")
        rows.append(shard)
        log(f"{model_name}: chunk {index + 1}/{len(chunks)}, {len(todo)} samples, {seconds:.3f} s/sample")
    if keep_checkpoint:
        _write_run_file(run_file, keys)
    return _finish(rows, requests, out_path, checkpoint_dir, keep_checkpoint, keys.run_key)


def _write_run_file(run_file: Path, keys: SampleKeys) -> None:
    """Record the run's settings beside its rows (once), so a later run can say what changed."""
    if not run_file.exists():
        run_file.parent.mkdir(parents=True, exist_ok=True)
        run_file.write_text(json.dumps(keys.settings, indent=1, sort_keys=True, default=str) + "\n")


def _transformers_backend(model_name: str, model_path: str, settings: dict, trust_remote_code: bool,
                          loaded: dict | None) -> TransformersBackend:
    """The transformers backend of ``model_path``: the one in ``loaded`` for the same model and
    settings, else a new one (kept there when ``loaded`` is given)."""
    key = (str(model_path), json.dumps(settings, sort_keys=True, default=str), bool(trust_remote_code))
    if loaded is not None and key in loaded:
        return loaded[key]
    check_weights_folder(model_path, f"models.{model_name}.weights")
    backend = TransformersBackend(model_path, settings, trust_remote_code=trust_remote_code)
    if loaded is not None:
        loaded[key] = backend
    return backend


def generate_tables(tables: list[tuple[str, pd.DataFrame, Path]], log: Callable[[str], None] = print,
                    **run) -> list[pd.DataFrame]:
    """Every ``(name, prompts, out_path)`` of ``tables`` with one model, loaded once: the rule
    generate's job, one per model, over the benchmarks not split by ``generation.shards``.

    ``run``: the keywords of :func:`generate_responses` but ``prompts`` and ``out_path``. Each
    table keeps its checkpoint folder (``keep_checkpoint``): when the job is run again because one
    benchmark changed (or one was added, or the job stopped), the samples of every other one are
    read back, not generated again, and the model is loaded only if a sample is left to generate.
    """
    loaded: dict = {}
    frames = []
    for name, prompts, out_path in tables:
        log(f"{name}: {len(prompts)} prompts -> {out_path}")
        frames.append(generate_responses(prompts, out_path=out_path, log=log, keep_checkpoint=True,
                                         loaded=loaded, **run))
    return frames


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


def _finish(rows: list[pd.DataFrame], requests: list[Request], out_path: Path, checkpoint_dir: Path,
            keep: bool = False, run_key: str = "") -> pd.DataFrame:
    """Order rows as the requests, check the contract, write ``out_path``; drop the checkpoint,
    or (``keep``) leave in it only the rows of this table, with their keys, and this run's file."""
    frame = order_responses(rows, requests)
    _write_parquet(frame, out_path)
    if not keep:
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
        return frame
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    wanted = {(r.id, r.sample) for r in requests}
    rows = pd.concat([row for row in rows if len(row)] or [frame.iloc[:0]], ignore_index=True)
    rows = rows[[(str(i), int(s)) in wanted for i, s in zip(rows["id"], rows["sample"])]]
    rows = rows.drop_duplicates(subset=["id", "sample"], keep="last")
    before = set(checkpoint_dir.glob("shard-*.parquet"))
    _write_parquet(rows.reset_index(drop=True), checkpoint_dir / f"shard-000000-{uuid.uuid4().hex[:8]}.parquet")
    for path in before | {p for p in checkpoint_dir.glob("run-*.json") if p != _run_file(checkpoint_dir, run_key)}:
        path.unlink(missing_ok=True)
    return frame
