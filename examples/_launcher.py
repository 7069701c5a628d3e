"""Start a real DBOS application for the examples (shop_app.py or scenario_app.py), and stop it after.

Where its system database lives:
  * by default, a fresh SQLite file in a temporary directory: no database server needed;
  * ``--postgres`` on the example's command line (or ``DBOS_EXAMPLES_POSTGRES=1``): a fresh
    database on the local Postgres at 127.0.0.1:5432, dropped at the end;
  * ``DBOS_SYSTEM_DATABASE_URL`` set: that database, as it is (DBOS creates it if needed).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

APP = Path(__file__).with_name("shop_app.py")
SCENARIO_APP = Path(__file__).with_name("scenario_app.py")
LOCAL_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _wants_postgres() -> bool:
    return "--postgres" in sys.argv[1:] or os.environ.get("DBOS_EXAMPLES_POSTGRES") == "1"


@contextlib.contextmanager
def _database() -> Iterator[str]:
    url = os.environ.get("DBOS_SYSTEM_DATABASE_URL")
    if url:
        yield url
        return
    if not _wants_postgres():
        folder = tempfile.mkdtemp(prefix="dbos_client_example_")
        try:
            yield f"sqlite:///{folder}/system.sqlite"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    import psycopg
    from psycopg import sql

    name = f"dbos_client_demo_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(LOCAL_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(LOCAL_ADMIN_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextlib.contextmanager
def running_app(app: Path, url: str | None = None) -> Iterator[str]:
    """Run one DBOS app script until the block ends; yield its system database URL.

    The app prints READY once it is polling its queues, and stops when its stdin closes.
    """
    with contextlib.ExitStack() as stack:
        if url is None:
            url = stack.enter_context(_database())
        env = {**os.environ, "DBOS_SYSTEM_DATABASE_URL": url}
        log = tempfile.NamedTemporaryFile("w+", prefix=f"{app.stem}_", suffix=".log", delete=False)
        proc = subprocess.Popen(
            [sys.executable, str(app)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True
        )
        try:
            line = proc.stdout.readline() if proc.stdout else ""
            if line.strip() != "READY":
                raise RuntimeError(f"the DBOS app {app.name} did not start (exit code {proc.poll()}); see {log.name}")
            yield url
        finally:
            if proc.stdin:
                proc.stdin.close()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout:
                proc.stdout.close()
            log.close()


@contextlib.contextmanager
def running_shop() -> Iterator[str]:
    """Yield the system database URL of a running shop app."""
    with running_app(APP) as url:
        yield url


@contextlib.contextmanager
def running_scenarios() -> Iterator[str]:
    """Yield the system database URL of a running scenario app (queue ``scenarios``)."""
    with running_app(SCENARIO_APP) as url:
        yield url
