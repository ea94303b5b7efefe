# Two commands do everything on a fresh machine: `make run` and `make test` (`make test-fast`: the
# unit tier in under a minute, no model).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
# Every pip call goes through constraints.txt: it pins torch to the CPU build (torch==2.13.0)
# and every other package to the versions tested here.
PIP    := $(BIN)/python -m pip install --constraint constraints.txt
MIRROR ?= ../shared/corpus
HOST   ?= 127.0.0.1
PORT   ?= 8501

.PHONY: install index run test test-fast lint bench clean-index browser translator

# Debian packages the product uses beside the venv, installed once (as root, or through sudo).
APT_GET = if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null; \
	else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null; fi

install: $(VENV)/.installed translator

# Apertium translates the Spanish words the glossary lacks (offline; without it, the glossary alone).
translator:
	@command -v apertium >/dev/null 2>&1 && [ -f /usr/share/apertium/modes/spa-eng.mode ] || \
		{ $(call APT_GET,apertium apertium-en-es) || echo "apertium could not be installed: Spanish questions use the glossary alone"; }

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) -e '.[dev]'
	touch $@

# Copies the registry's documents from the local mirror when it exists; without one, downloads them
# (offline: one line says so, and what is here is indexed), then indexes incrementally.
FETCH_ONLINE := corpus fetch --timeout 10 --retries 0 --offline-ok
index: install
	@if [ -d "$(MIRROR)" ]; then $(BIN)/usmca-assistant corpus fetch --mirror "$(MIRROR)"; \
	else $(BIN)/usmca-assistant $(FETCH_ONLINE) || echo "corpus fetch: some documents failed (above); indexing what is here"; fi
	$(BIN)/usmca-assistant index

# With the mirror: index once if absent (as before); an index that exists is brought up to date
# incrementally (a few seconds when nothing changed; after an upgrade of the indexing code, every
# document is parsed again with its vectors reused), so new code never reads an old index's terms;
# when that update fails (a bad file, another writer), the errors are shown and the index as it is
# is served.
# Without the mirror: try to download what is missing (quick when offline or when everything is
# here), index what came, then serve.
run: install
	@if [ ! -d "$(MIRROR)" ] || [ ! -f "$${ASSISTANT_INDEX_DIR:-index}/documents.json" ]; then \
		$(MAKE) --no-print-directory index; else $(BIN)/usmca-assistant index || \
		echo "index update incomplete (errors above): serving the index as it is"; fi
	HF_HUB_OFFLINE=1 $(BIN)/streamlit run ui/app.py --server.address $(HOST) --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false

# Debian's Chromium drives the browser test (never a downloaded browser).
browser:
	@command -v chromium >/dev/null 2>&1 || { $(call APT_GET,chromium); }

# The full suite (both tiers), as CI runs it (.ci/run).
test: install browser
	$(BIN)/ruff check .
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q

# The fast tier: toy corpus and a deterministic embedder, never the model (tests/conftest.py).
test-fast: install
	$(BIN)/ruff check .
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q -m fast

lint: install
	$(BIN)/ruff check .

# The benchmark scripts (figures printed and saved in bench/results/; tens of minutes on 2 cores):
# retrievers side by side and answer quality on the dev set, query latency and CLI cold start,
# indexing speed, then the tuning sets of conversations and Spanish pairs when present. The index of
# the brief + mirror is built on first use and reused (BENCH_INDEX_DIR=... to choose its folder).
# Not here: load.py (concurrency), the calibration fits, and the sealed sets (run once by hand).
bench: install
	@set -e; dir="$${BENCH_INDEX_DIR:+--index-dir $$BENCH_INDEX_DIR}"; export HF_HUB_OFFLINE=1; \
	$(BIN)/python bench/quality.py --mirror "$(MIRROR)" $$dir; \
	$(BIN)/python bench/answer_quality.py $$dir; \
	$(BIN)/python bench/query_latency.py --mirror "$(MIRROR)" $$dir; \
	$(BIN)/python bench/index_speed.py --mirror "$(MIRROR)"; \
	$(BIN)/python bench/spanish_pairs.py $$dir; \
	if [ -f bench/questions/conversations.jsonl ]; then $(BIN)/python bench/conversations.py $$dir; \
	else echo "bench/questions/conversations.jsonl not present: conversations skipped"; fi

clean-index:
	rm -rf index/* && touch index/.gitkeep
