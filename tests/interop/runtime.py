"""Helpers for running a real DBOS runtime (tests/interop/interop_app.py) next to
the client under test.  Stdlib + psycopg only, so fixtures can import it from
the 3.x test venv while the runtime itself may run under another interpreter
(dbos 2.x lives in its own venv, see scripts/setup-dbos2-venv.sh).

Facts the interop tests rely on (checked against dbos 3.4.0 and 2.31.1):

* The runtime creates/migrates the ``dbos`` schema itself on launch; a fresh
  empty database is enough.
* ``interop_q`` is a ``dbos.queues`` row in 3.x (``DBOS.register_queue``) and an
  in-memory queue with no row in 2.x (see INTEROP_QUEUE_MODE in the app).
* ``dbos.workflow_status`` rows written by DBOS itself (identical in both):
  ``Greeter("greeter-1").greet`` -> name ``Greeter.greet``, class_name
  ``Greeter``, config_name ``greeter-1``; staticmethod ``Greeter.shout`` ->
  class_name NULL, config_name NULL; classmethod ``Greeter.describe`` ->
  class_name ``Greeter``, config_name NULL; module functions -> their name.
* Official clients are not cross-version: the 3.x DBOSClient fails on a 2.x
  schema (no ``creator_xid`` column), and a 2.x DBOSClient reads ``None`` for a
  3.x runtime's results (3.x stores inputs/outputs in ``dbos.workflow_input`` /
  ``dbos.workflow_output``; the old columns stay NULL).
* A workflow enqueued with NULL application_name is dequeued by the runtime
  and stamped with its name; one with another app's name stays ENQUEUED.
* DBOS creates the system database itself if it does not exist.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
APP_SCRIPT = HERE / "interop_app.py"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

# Runtimes the interop suite knows how to run.
VERSIONS = ("3.4.0", "2.31.1")


def create_database(
    admin_url: str = DEFAULT_ADMIN_URL, prefix: str = "dbos_client_test"
) -> str:
    """Create a uniquely named empty database and return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return _with_dbname(admin_url, name)


def drop_database(url: str, admin_url: str = DEFAULT_ADMIN_URL) -> None:
    """Drop the database named in ``url``, disconnecting any sessions (FORCE)."""
    name = conninfo_to_dict(url)["dbname"]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)
            )
        )


def _with_dbname(url: str, dbname: str) -> str:
    # Rebuild as a URL (DBOS wants a URL, not a key=value conninfo string).
    params = conninfo_to_dict(url)
    user = params.get("user", "postgres")
    password = params.get("password")
    host = params.get("host", "127.0.0.1")
    port = params.get("port", "5432")
    auth = user + (f":{password}" if password else "")
    return f"postgresql://{auth}@{host}:{port}/{dbname}"


def runtime_python(version: str) -> str:
    """Interpreter that has the given dbos version installed."""
    if version == "3.4.0":
        return sys.executable  # the test venv pins dbos 3.4.0
    if version == "2.31.1":
        return os.environ.get(
            "DBOS2_PYTHON", str(REPO_ROOT / ".venv-dbos2" / "bin" / "python")
        )
    raise ValueError(f"unknown DBOS runtime version {version!r}; known: {VERSIONS}")


class DBOSRuntime:
    """A real DBOS application process (interop_app.py) bound to one database.

    ``start()`` returns once the app printed ``READY`` (launched, migrations
    done, ``interop_q`` polled).  ``stop()`` closes stdin, which the app treats
    as a request to ``DBOS.destroy()`` and exit.
    """

    def __init__(
        self,
        python: str,
        database_url: str,
        app_name: str = "interop",
        env: dict | None = None,
    ) -> None:
        self.python = python
        self.database_url = database_url
        self.app_name = app_name
        self.extra_env = dict(env or {})
        self.proc: subprocess.Popen | None = None
        self._tmpdir = tempfile.mkdtemp(prefix="dbos_runtime_")
        self.log_path = Path(self._tmpdir) / "runtime.log"
        self.startup_seconds: float | None = None

    def start(self, timeout: float = 90) -> DBOSRuntime:
        if self.proc is not None:
            raise RuntimeError("runtime already started")
        env = dict(os.environ)
        env.update(
            DBOS_SYSTEM_DATABASE_URL=self.database_url,
            INTEROP_APP_NAME=self.app_name,
            PYTHONUNBUFFERED="1",  # so the log and READY appear promptly
        )
        # Don't leak the test venv into a different interpreter (2.x venv).
        env.pop("PYTHONPATH", None)
        env.pop("VIRTUAL_ENV", None)
        env.update(self.extra_env)
        started = time.monotonic()
        log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(
                [self.python, str(APP_SCRIPT)],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self._tmpdir,  # keep any stray files out of the repo
            )
        finally:
            log.close()  # the child holds its own descriptor
        deadline = started + timeout
        while True:
            if any(line.strip() == "READY" for line in self.log_text().splitlines()):
                self.startup_seconds = time.monotonic() - started
                return self
            code = self.proc.poll()
            if code is not None:
                raise RuntimeError(
                    f"DBOS runtime exited with code {code} before READY:\n"
                    + self.log_tail()
                )
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(
                    f"DBOS runtime not READY after {timeout}s:\n" + self.log_tail()
                )
            time.sleep(0.05)

    def stop(self, grace: float = 15) -> int | None:
        """Ask the app to shut down (stdin EOF), then terminate/kill. Returns exit code."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            try:
                if proc.stdin:
                    proc.stdin.close()
            except OSError:
                pass
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        elif proc.stdin:
            proc.stdin.close()
        return proc.returncode

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def __enter__(self) -> DBOSRuntime:
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
