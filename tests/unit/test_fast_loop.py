"""The fast loop stays fast: collecting tests/unit imports neither the dbos runtime nor the interop harness."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

UNIT_DIR = Path(__file__).resolve().parent

CHECK = """
import sys, pytest
code = pytest.main([sys.argv[1], "--collect-only", "-q", "-p", "no:cacheprovider"])
dbos = sorted(m for m in sys.modules if m == "dbos" or m.startswith("dbos."))
harness = sorted(m for m in ("runtime", "cluster", "interop_app") if m in sys.modules)
print("RESULT", code, dbos, harness)
"""


def test_unit_collection_imports_no_dbos_and_no_interop_harness() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK, str(UNIT_DIR)], capture_output=True, text=True, timeout=120, cwd=UNIT_DIR.parent.parent
    )
    result = [line for line in done.stdout.splitlines() if line.startswith("RESULT")]
    assert result == ["RESULT 0 [] []"], done.stdout[-2000:] + done.stderr[-2000:]


def test_no_unit_file_shares_a_basename_with_an_interop_file() -> None:
    """The test directories are not packages: two test_x.py files stop the whole session at
    collection (``import file mismatch``), which only the full run shows."""
    from pathlib import Path

    tests = Path(__file__).resolve().parent.parent
    unit = {p.name for p in (tests / "unit").glob("test_*.py")}
    interop = {p.name for p in (tests / "interop").glob("test_*.py")}
    assert unit & interop == set()
