# Set-up, the study on the example collection, and the tests.
#
#   make run     create .venv, install nbcensus, run the study on INPUT
#   make test    also install the test extras and Chromium, then run pytest
#
# INPUT can name any folder, notebook, archive or manifest CSV:
#   make run INPUT=../corpus/manifest.csv

PYTHON ?= python3
VENV ?= .venv
INPUT ?= examples/manifest.csv
PYTEST_ARGS ?=

BIN := $(VENV)/bin
CHROMIUM := /usr/bin/chromium

# Stamp files record what is installed; they are remade when pyproject.toml changes.
INSTALLED := $(VENV)/.installed
TEST_INSTALLED := $(VENV)/.installed-test

.PHONY: run test install install-test chromium clean

run: $(INSTALLED)
	$(BIN)/nbcensus run $(INPUT)

test: $(TEST_INSTALLED) chromium
	$(BIN)/pytest $(PYTEST_ARGS)

install: $(INSTALLED)

install-test: $(TEST_INSTALLED)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --editable .
	touch $@

$(TEST_INSTALLED): pyproject.toml $(INSTALLED)
	$(BIN)/python -m pip install --quiet --editable '.[test]'
	touch $@

# Debian's Chromium for the browser test. Installing it needs root and apt-get;
# without them the browser test skips and says why.
chromium:
	@if [ -x $(CHROMIUM) ]; then \
		true; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	else \
		echo "chromium is missing and cannot be installed without root and apt-get; the browser test will be skipped"; \
	fi

clean:
	rm -rf warehouse target logs reports/*.html
