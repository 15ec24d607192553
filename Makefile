# Every target sets itself up on a fresh machine: .venv is created and filled if missing.
# Installs go through uv (seconds with a warm cache), bootstrapped into .venv with pip, so a machine
# with only python3 and PyPI access is enough. `make run` installs the local path only (no Azure
# SDK); `make test` also installs the aml extra and Azurite (npm), so tests install nothing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
# uv caches built editables: every checkout must import its own tenantml, not another folder's
INSTALL := $(UV) pip install -q --python $(BIN)/python --reinstall-package tenantml -e
AZURITE_VERSION := $(shell sed -n 's/^AZURITE_VERSION = "\([^"]*\)".*/\1/p' tests/aml_fake.py)
AZURITE_DIR     := $(VENV)/tools/azurite-$(AZURITE_VERSION)

.PHONY: run test test-fast check bench clean test-tools azurite

$(UV):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv

$(VENV)/.installed-run: pyproject.toml | $(UV)
	$(INSTALL) ".[examples]"
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(UV)
	$(INSTALL) ".[test,examples,aml]"
	touch $@

$(VENV)/.installed-bench: pyproject.toml | $(UV)
	$(INSTALL) ".[test,examples]"
	touch $@

# Azurite (Microsoft's storage emulator) for tests/test_aml_submit.py, cached in .venv by version.
azurite: $(AZURITE_DIR)/node_modules/.bin/azurite-blob
$(AZURITE_DIR)/node_modules/.bin/azurite-blob:
	@if command -v npm >/dev/null && command -v node >/dev/null; then \
	  echo "npm install azurite@$(AZURITE_VERSION) into $(AZURITE_DIR)"; \
	  npm install --prefix $(AZURITE_DIR) --no-audit --no-fund --loglevel=error azurite@$(AZURITE_VERSION); \
	else echo "npm/node not found: the Azure upload tests (tests/test_aml_submit.py) will be skipped"; fi

run: $(VENV)/.installed-run
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

# Two test processes (pytest-xdist), one per core of the 2-core machine the suite is sized for; tests
# that share a session-scoped run are grouped onto one process (xdist_group, --dist loadgroup).
PYTEST := $(BIN)/python -m pytest -q -p no:cacheprovider -n 2 --dist loadgroup

test: $(VENV)/.installed-test azurite test-tools
	$(PYTEST) tests

# The fast loop: no end-to-end examples, no Azurite (tests marked slow); under 60 s on 2 cores.
test-fast: $(VENV)/.installed-test
	$(PYTEST) -m "not slow" tests

# Types (mypy --strict, configured in pyproject.toml) and lint (ruff): tenantml/ and the example backend.
check: $(VENV)/.installed-test
	$(BIN)/ruff check tenantml examples/backends
	$(BIN)/mypy

bench: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .tenantml
