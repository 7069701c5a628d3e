"""The examples run against a real DBOS app, and the drop-in script gives the same output on both clients."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.interop
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DBOS_IMPORT = "from dbos import DBOSClient"


def _run(script: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=180, cwd=EXAMPLES)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_demo_runs(database: str) -> None:
    # SQLite by default, so a machine with no database server runs it; --postgres for the other.
    out = _run(EXAMPLES / "demo.py", *(["--postgres"] if database == "postgresql" else []))
    assert f"system database: {database}" in out
    assert "event payment_id = 'pay-A-17'" in out
    assert "result = {'order_id': 'A-17', 'amount': 42.5, 'status': 'shipped'}" in out
    assert "stream log: order A-17: shipped" in out
    assert "cancelled the slow report" in out


def test_demo_needs_no_database_server() -> None:
    """In a network namespace of its own, no server is reachable: the default demo still runs."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-n", "true"]).returncode != 0:
        pytest.skip("needs unshare -n (a network namespace) to take every server away")
    done = subprocess.run(["unshare", "-n", sys.executable, str(EXAMPLES / "demo.py")],
                          capture_output=True, text=True, timeout=180, cwd=EXAMPLES)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "system database: sqlite" in done.stdout and "status = SUCCESS" in done.stdout


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_dropin_script_behaves_the_same_on_dbos_and_dbos_client(tmp_path: Path, database: str) -> None:
    source = (EXAMPLES / "dropin.py").read_text()
    ours = [line for line in source.splitlines() if line.startswith("from dbos_client import DBOSClient")]
    assert len(ours) == 1, "the drop-in script must import DBOSClient on exactly one line"
    dbos_version = tmp_path / "dropin.py"
    dbos_version.write_text(source.replace(ours[0], DBOS_IMPORT))
    # Everything else, byte for byte, is the same script; its helpers sit next to it.
    assert source.replace(ours[0], DBOS_IMPORT) == dbos_version.read_text()
    for helper in ("_launcher.py", "_dbos_app.py", "shop_app.py"):
        (tmp_path / helper).write_text((EXAMPLES / helper).read_text())
    flags = ["--postgres"] if database == "postgresql" else []
    with_dbos_client = _run(EXAMPLES / "dropin.py", *flags)
    with_dbos = _run(dbos_version, *flags)
    assert with_dbos_client == with_dbos
    assert "pay-B-2" in with_dbos_client and "CANCELLED" in with_dbos_client


SCENARIOS = {
    "progress_bar.py": ["[##############################] 20/20", "result: {'items': 20, 'sum_of_squares': 2870}"],
    "payment_webhook.py": [
        "order A-17 awaits payment pay-A-17",
        "paid path: {'order_id': 'A-17', 'status': 'paid', 'amount': 42.5}",
        "timed-out path: {'order_id': 'B-3', 'status': 'cancelled', 'reason': 'no payment in time'}",
        "order statuses: A-17 'paid', B-3 'cancelled'",
    ],
    "llm_stream.py": [
        "answer: Durable workflows keep their state in the database, so a crash only pauses them: "
        "they resume from the last completed step.",
        "result: {'prompt': 'Why durable workflows?', 'tokens': 21}",
    ],
    "etl_job.py": [
        "log error: batch 4: row 217 rejected (date 2026-02-30)",
        "records processed so far: 300",
        "cron: cancel message sent",
        "log warning: cancel requested (maintenance window); stopping",
        "state: cancelled",
    ],
}


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
@pytest.mark.parametrize("script", sorted(SCENARIOS))
def test_scenario_examples(script: str, database: str) -> None:
    out = _run(EXAMPLES / script, *(["--postgres"] if database == "postgresql" else []))
    lines = [line.strip() for line in out.splitlines()]
    for expected in SCENARIOS[script]:
        assert expected in lines, f"{expected!r} not in the output of {script}:\n{out}"
    if script == "etl_job.py":
        # Cancelled between batches, after the 300 it had reported: it never ran to the end.
        assert "'cancelled': True" in lines[-1] and "'processed': 1000" not in lines[-1]
