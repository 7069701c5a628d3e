"""Both suites. tests/unit is the fast loop: pure logic, no database, and no ``dbos`` import.

Interop fixtures (a DBOS runtime, Postgres) live in tests/interop/conftest.py, so a unit run
never loads them. A session that ran only unit tests fails if anything imported ``dbos``
(tests/unit/test_fast_loop.py checks the collection too, in a subprocess).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

UNIT_DIR = Path(__file__).resolve().parent / "unit"


def dbos_modules() -> list[str]:
    """The ``dbos`` runtime's modules imported so far (not ``dbos_client``)."""
    return sorted(m for m in sys.modules if m == "dbos" or m.startswith("dbos."))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    items = getattr(session, "items", [])
    if not items or not all(UNIT_DIR in Path(str(item.path)).resolve().parents for item in items):
        return  # interop tests ran too: they import dbos on purpose
    imported = dbos_modules()
    if imported:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = f"tests/unit imported the dbos runtime ({', '.join(imported[:3])}...): the fast loop must not"
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
