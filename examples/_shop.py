"""Start examples/shop_app.py as a real DBOS application for the examples, and stop it after.

With DBOS_SYSTEM_DATABASE_URL set, the app uses that database (DBOS creates it if needed).
Without it, a fresh database is created on the local Postgres and dropped at the end.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Iterator

import psycopg
from psycopg import sql

APP = Path(__file__).with_name("shop_app.py")
LOCAL_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextlib.contextmanager
def _database() -> Iterator[str]:
    url = os.environ.get("DBOS_SYSTEM_DATABASE_URL")
    if url:
        yield url
        return
    name = f"dbos_client_demo_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(LOCAL_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(LOCAL_ADMIN_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextlib.contextmanager
def running_shop() -> Iterator[str]:
    """Yield the system database URL of a running shop app."""
    with _database() as url:
        env = {**os.environ, "DBOS_SYSTEM_DATABASE_URL": url}
        log = tempfile.NamedTemporaryFile("w+", prefix="shop_app_", suffix=".log", delete=False)
        app = subprocess.Popen(
            [sys.executable, str(APP)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True
        )
        try:
            line = app.stdout.readline() if app.stdout else ""
            if line.strip() != "READY":
                raise RuntimeError(f"the DBOS app did not start (exit code {app.poll()}); see {log.name}")
            yield url
        finally:
            if app.stdin:
                app.stdin.close()
            try:
                app.wait(15)
            except subprocess.TimeoutExpired:
                app.kill()
                app.wait()
