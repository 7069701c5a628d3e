# Two commands do all the set-up on a fresh machine (Python 3.10+, Postgres at 127.0.0.1:5432):
#   make demo   - start a real DBOS app and talk to it through dbos_client
#   make test   - install everything (both DBOS runtimes included) and run the whole suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: install dbos2 demo test bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

install: $(VENV)/.installed

# The 2.x runtime cannot share a venv with dbos 3.4.0, so it gets its own.
dbos2:
	bash scripts/setup-dbos2-venv.sh

demo: install
	$(PY) examples/demo.py

test: install dbos2
	$(PY) -m pytest

bench: install
	$(PY) benchmarks/bench.py --waiters 1000

clean:
	rm -rf $(VENV) .venv-dbos2 *.egg-info .pytest_cache
