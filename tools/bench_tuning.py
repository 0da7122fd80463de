"""Seconds per optimizer step of the demo's tiny-model tuning on this machine's CPU: one run on
two threads, one run on one thread, and two one-thread runs side by side (what two 1-thread jobs
of Snakemake do on two cores). A measurement, not a test.

    python tools/bench_tuning.py --start resources/tiny_zoo/init/seed1 \
        --data resources/tiny_zoo/chat_data/direct --steps 60 --repeats 3

Each setting runs ``--repeats`` times; printed are the median of LLaMA-Factory's own
``train_runtime`` per step (start-up excluded) and the median wall time of the whole run (start-up
included), and the throughput of each setting relative to one two-thread run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from think_in_safety.models import tuning


def one_run(start: Path, data: Path, steps: int, threads: int, work: Path) -> tuple[float, float]:
    """(train seconds per step, wall seconds of the run)."""
    config = tuning.llamafactory_config(model_dir=start, dataset_dir=data, dataset_name=f"chat_{data.name}",
                                        output_dir=work / "out", template="qwen2_vl",
                                        hyper={"max_steps": steps, "device": "cpu", "logging_steps": steps})
    begin = time.perf_counter()
    tuning.run_llamafactory(config, config_path=work / "train.yaml", log_path=work / "train.log", threads=threads)
    wall = time.perf_counter() - begin
    results = json.loads((work / "out" / "train_results.json").read_text())
    return results["train_runtime"] / steps, wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--start", type=Path, required=True, help="model folder to tune from")
    parser.add_argument("--data", type=Path, required=True,
                        help="a chat-data folder (resources/tiny_zoo/chat_data/<style>)")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for repeat in range(args.repeats):  # settings interleaved, so drifting load hits each alike
            for name, threads, parallel in (("1 run x 2 threads", 2, 1), ("1 run x 1 thread", 1, 1),
                                            ("2 runs x 1 thread, side by side", 1, 2)):
                works = [root / f"{name[:1]}-{threads}-{repeat}-{k}" for k in range(parallel)]
                with ThreadPoolExecutor(parallel) as pool:
                    results = list(pool.map(one_run, [args.start] * parallel, [args.data] * parallel,
                                            [args.steps] * parallel, [threads] * parallel, works))
                rows.setdefault(name, []).append((results, parallel))
    reference = None
    print(f"{args.steps} steps, {args.repeats} repeats; medians\n")
    print("| setting | train s/step | run wall s | steps/s of the machine | vs 1 run x 2 threads |")
    print("|---|---:|---:|---:|---:|")
    for name, runs in rows.items():
        per_step = statistics.median(step for results, _ in runs for step, _ in results)
        wall = statistics.median(max(w for _, w in results) for results, _ in runs)
        throughput = statistics.median(parallel * args.steps / max(w for _, w in results) for results, parallel in runs)
        reference = reference or throughput
        print(f"| {name} | {per_step:.3f} | {wall:.1f} | {throughput:.2f} | {throughput / reference:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
