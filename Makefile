# Two commands do all the set-up on a fresh machine (Python 3.10+):
#   make demo   - start a real DBOS app on a SQLite file and talk to it through dbos_client
#   make test   - install everything (both DBOS runtimes, Chromium, PgBouncer), lint and type-check,
#                 run the whole suite, then DBOS's own client tests with our client swapped in
#                 (needs Postgres at 127.0.0.1:5432, user postgres)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install dbos2 ts-app browser pgbouncer upstream-venv lint upstream demo gateway-demo test bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

install: $(VENV)/.installed

# The 2.x runtime cannot share a venv with dbos 3.4.0, so it gets its own.
dbos2:
	bash scripts/setup-dbos2-venv.sh

# The DBOS TypeScript runtime (@dbos-inc/dbos-sdk 5.3.0, pinned with its lockfile) for
# tests/interop/test_typescript.py; needs Node 20+ and npm.
ts-app:
	cd tests/interop/ts_app && npm ci --no-audit --no-fund --loglevel=error

# The live page's test drives Debian's Chromium through its chromedriver.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; else \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver; fi

# The PgBouncer tests and benchmarks/bench_topologies.py start Debian's pgbouncer (1.18 on
# bookworm) themselves, on a free port; the package's own service is not used.
pgbouncer:
	@if command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ]; then :; else \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq pgbouncer; fi

# DBOS's own client tests run in a venv of their own (their test dependencies would change ours).
upstream-venv: install
	bash scripts/setup-upstream-venv.sh

lint: install
	$(VENV)/bin/ruff check
	$(VENV)/bin/mypy

# DBOS 3.4.0's client tests from its sdist, with only DBOSClient swapped for ours; fails if one
# that passed before (tests/upstream/expected.txt) fails twice.
upstream: upstream-venv
	.venv-upstream/bin/python tests/upstream/run.py

demo: install
	$(PY) examples/demo.py

gateway-demo: install
	cd examples && ../$(PY) gateway_demo.py

test: install dbos2 ts-app browser pgbouncer lint upstream-venv
	$(PY) -m pytest
	.venv-upstream/bin/python tests/upstream/run.py

bench: install pgbouncer
	$(PY) benchmarks/bench.py --waiters 1000
	$(PY) benchmarks/bench_sqlite.py
	$(PY) benchmarks/bench_topologies.py
	$(PY) benchmarks/bench_bulk.py --sqlite

clean:
	rm -rf $(VENV) .venv-dbos2 .venv-upstream *.egg-info .pytest_cache build/upstream tests/interop/ts_app/node_modules
