"""Smoke test of the interop harness itself, using only official DBOS code.

For each runtime version: fresh database -> real interop_app runtime -> the
matching official ``dbos.DBOSClient`` enqueues work and reads results, events
and streams.  The 3.4.0 client runs in-process; the 2.31.1 one runs in the
2.x venv (the 3.x client writes 3.x-only columns such as ``creator_xid``, and a
2.x client cannot see 3.x results, which live in ``dbos.workflow_output``).
"""

import json
import os
import subprocess

import psycopg
import pytest

try:  # tests/interop may or may not become a package
    from . import runtime as rt
except ImportError:
    import runtime as rt

PROBE = rt.HERE / "dbos_client_probe.py"

EXPECTED = {
    "echo": {"args": [1, "two"], "kwargs": {"key": [3]}},
    "done": {"count": 3},
    "progress": 2,
    "published": 3,
    "streamed": ["a", {"b": 1}, 3],
    "stream_result": 3,
}


def _probe_with(version, url):
    if version == "3.4.0":
        try:
            from . import dbos_client_probe as probe_mod
        except ImportError:
            import dbos_client_probe as probe_mod
        return probe_mod.probe(url)
    out = subprocess.run(
        [rt.runtime_python(version), str(PROBE), url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("version", rt.VERSIONS)
def test_runtime_runs_official_client_workloads(version):
    python = rt.runtime_python(version)
    if not os.path.exists(python):
        pytest.fail(f"{python} missing: run scripts/setup-dbos2-venv.sh")
    url = rt.create_database()
    try:
        with rt.DBOSRuntime(python, url) as runtime:
            # 3.x only polls queues that are dbos.queues rows; 2.x declares an
            # in-memory queue, so there is no row.
            with psycopg.connect(url) as conn:
                rows = conn.execute("SELECT name FROM dbos.queues").fetchall()
            assert rows == ([("interop_q",)] if version == "3.4.0" else [])

            assert _probe_with(version, url) == EXPECTED
            assert runtime.running, runtime.log_tail()
        assert runtime.proc.returncode == 0, runtime.log_tail()
    finally:
        rt.drop_database(url)
