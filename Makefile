# engagebot developer commands. Every target creates .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

BROWSER_STAMP := $(VENV)/.installed-browser

.PHONY: demo test test-long test-browser lint run bench clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/engagebot demo

test: $(STAMP)
	$(BIN)/python -m pytest -m "not long and not browser"

# An empty selection (pytest exit code 5) is fine here; `make test` treats it as the failure it is there.
test-long: $(STAMP)
	$(BIN)/python -m pytest -m long || [ $$? -eq 5 ]

# Browser tests: Playwright driving the system Chromium (/usr/bin/chromium, from the OS packages).
# Playwright's own browser download is never used.
$(BROWSER_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[test,browser]'
	touch $(BROWSER_STAMP)

test-browser: $(BROWSER_STAMP)
	$(BIN)/python -m pytest -m browser

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

run: $(STAMP)
	$(BIN)/engagebot serve

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info
