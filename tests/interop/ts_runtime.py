"""The DBOS TypeScript runtime (tests/interop/ts_app, ``@dbos-inc/dbos-sdk`` 5.3.0 on Node 20).

``make ts-app`` installs it (``npm ci`` from the lockfile). The TS SDK supports only Postgres
system databases, so the TypeScript scenarios skip SQLite, saying so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from runtime import DBOSRuntime

TS_APP_DIR = Path(__file__).resolve().parent / "ts_app"
TS_SDK_VERSION = "5.3.0"
#: The queue the TS app registers (a ``dbos.queues`` row) and polls.
TS_QUEUE = "ts_q"


def ts_app_missing() -> str | None:
    """Why the TS app cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed (the DBOS TypeScript runtime needs Node 20+)"
    sdk = TS_APP_DIR / "node_modules" / "@dbos-inc" / "dbos-sdk" / "package.json"
    if not sdk.exists():
        return "tests/interop/ts_app is not installed: run `make ts-app` (npm ci)"
    return None


class TSRuntime(DBOSRuntime):
    """``node app.js`` bound to one Postgres database; READY on stdout, stdin EOF stops it."""

    def __init__(self, database_url: str) -> None:
        super().__init__("node", database_url, app_name="ts")

    def start(self, timeout: float = 90) -> TSRuntime:
        if self.proc is not None:
            raise RuntimeError("runtime already started")
        env = dict(os.environ, DBOS_SYSTEM_DATABASE_URL=self.database_url, TS_APP_QUEUE=TS_QUEUE)
        started = time.monotonic()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                ["node", str(TS_APP_DIR / "app.js")],
                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=TS_APP_DIR,
            )  # fmt: skip
        while True:
            if any(line.strip() == "READY" for line in self.log_text().splitlines()):
                self.startup_seconds = time.monotonic() - started
                return self
            code = self.proc.poll()
            if code is not None:
                raise RuntimeError(f"the TS app exited with code {code} before READY:\n{self.log_tail()}")
            if time.monotonic() > started + timeout:
                self.stop()
                raise TimeoutError(f"the TS app was not READY after {timeout}s:\n{self.log_tail()}")
            time.sleep(0.05)
