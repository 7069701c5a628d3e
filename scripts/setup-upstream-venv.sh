#!/usr/bin/env bash
# Create (or reuse) <repo>/.venv-upstream: dbos 3.4.0 with what its own test suite imports,
# and this package (editable), for tests/upstream/run.py (DBOS's client tests, our client).
# Kept apart from .venv because DBOS's test dependencies (pytest-asyncio, OpenTelemetry's
# SDK) would change how our own suite runs. Idempotent.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${REPO_ROOT}/.venv-upstream"
PY="${VENV}/bin/python"
STAMP="${VENV}/.installed-3.4.0-drivers"  # renamed when the list below changes
if [ -x "$PY" ] && [ -f "$STAMP" ]; then
    exit 0
fi
rm -rf "$VENV"
python3 -m venv --without-pip "$VENV"
# The dev venv's pip (upgraded by make install) installs into this one: no second bootstrap of pip.
PIP=("${REPO_ROOT}/.venv/bin/python" -m pip --python "$PY")
"${PIP[@]}" install --quiet --disable-pip-version-check \
    "dbos==3.4.0" "pytest>=8.3.3" "pytest-mock>=3.14.0" "pytest-asyncio>=0.25.0" "pytest-timeout>=2.3.1" \
    "opentelemetry-sdk>=1.42.0" "opentelemetry-exporter-otlp-proto-http>=1.42.0" \
    "opentelemetry-instrumentation-logging>=0.63b0" "inline-snapshot>=0.28.0" requests pydantic fastapi uvicorn httpx \
    "psycopg2-binary>=2.9.11" "aiosqlite>=0.20.0"
"${PIP[@]}" install --quiet --disable-pip-version-check -e "$REPO_ROOT"
touch "$STAMP"
