# Every target sets itself up on a fresh machine: .venv is created and filled if missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast check bench clean test-tools

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test,examples,aml]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/tenantml run examples/tenants/pipeline.yml

# The browser and terminal the report and live-view tests drive (Debian packages). Quick when
# present; installed with apt-get when missing and we are root (CI); otherwise those tests skip
# and say why.
test-tools:
	@missing=""; command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v tmux >/dev/null 2>&1 || missing="$$missing tmux"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "not installed:$$missing (the tests that need them will be skipped)"; fi; \
	fi

test: $(STAMP) test-tools
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

# The fast loop: no end-to-end examples, no Azurite (tests marked slow); under 60 s on 2 cores.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow" tests

# Types (mypy --strict, configured in pyproject.toml) and lint (ruff): tenantml/ and the example backend.
check: $(STAMP)
	$(BIN)/ruff check tenantml examples/backends
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .tenantml
