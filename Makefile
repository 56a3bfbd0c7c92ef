# Two commands do everything: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
VENDOR := static/vendor/htmx.min.js
MO := server/translations/es/LC_MESSAGES/messages.mo

.PHONY: run test lint bench i18n clean

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(INSTALLED)

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

$(VENDOR): node_modules/.package-lock.json
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)

$(MO): server/translations/es/LC_MESSAGES/messages.po $(INSTALLED)
	$(BIN)/pybabel compile --statistics -d server/translations

run: $(INSTALLED) $(VENDOR) $(MO)
	$(BIN)/steady run $(if $(DEMO),--demo,)

# pytest-xdist: one worker more than the logical CPUs (TEST_WORKERS=0 runs in one process), groups as in
# tests/conftest.py. The extra worker keeps the CPUs busy while another waits on real time (a lease running out,
# Chromium, the database): on 2 CPUs, 3 workers measured 383 s against 470 s for 2 (bench/suite_timeline.py), and
# `make test` took 362 s with 3 against 409 s with 4 (also with one of the 4 starting on the ungrouped tests).
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))

# PYTHONDONTWRITEBYTECODE (set on some machines) would make every worker and every dispatcher process a test
# starts compile the whole app again and pytest rewrite every test module again: about 5 s of CPU each.
test: lint $(VENDOR) $(MO)
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# Style, then the architecture: the import contracts in pyproject.toml ([tool.importlinter]), then types
# (mypy as a per-module ratchet: bench/typecheck.py), then dependencies declared exactly as imported.
lint: $(INSTALLED)
	$(BIN)/ruff check server tests bench
	$(BIN)/lint-imports --no-cache
	$(BIN)/python bench/typecheck.py
	$(BIN)/python bench/deps_check.py

bench: $(INSTALLED) $(VENDOR)
	$(BIN)/python bench/run_all.py

i18n: $(INSTALLED)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o server/translations/messages.pot server
	$(BIN)/pybabel update -i server/translations/messages.pot -d server/translations
	$(BIN)/pybabel compile --statistics -d server/translations

clean:
	rm -rf $(VENV) node_modules static/vendor
