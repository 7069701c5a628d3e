#!/usr/bin/env bash
# Create (or reuse) <repo>/.venv-dbos2 with dbos==2.31.1.
#
# The interop tests run a real DBOS 2.x runtime in a separate interpreter,
# because the main test venv pins dbos 3.x and the two cannot coexist.
# Idempotent: if the venv already has the right dbos version, do nothing.
set -euo pipefail

DBOS2_VERSION="2.31.1"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${REPO_ROOT}/.venv-dbos2"
PY="${VENV}/bin/python"

if [ -x "$PY" ] && "$PY" -c "import importlib.metadata as m, sys; sys.exit(m.version('dbos') != '${DBOS2_VERSION}')" 2>/dev/null; then
    echo "${VENV} already has dbos==${DBOS2_VERSION}"
    exit 0
fi

python3 -m venv "$VENV"
"$PY" -m pip install --quiet --disable-pip-version-check "dbos==${DBOS2_VERSION}"
"$PY" -c "import dbos, importlib.metadata as m; print('dbos', m.version('dbos'), 'installed in ${VENV}')"
