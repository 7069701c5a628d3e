"""Servers the tests start in their own processes: a free port, and an HTTP server run until the test is done."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def http_server(
    args: Sequence[str],
    *,
    log: Path,
    cwd: Path,
    env: Mapping[str, str],
    ready_url: str,
    ready_codes: tuple[int, ...] = (200,),
    start_seconds: float,
    poll_seconds: float,
    stop_signal: signal.Signals,
    stop_seconds: float,
    what: str,
) -> Iterator[subprocess.Popen[str]]:
    """Run ``args`` until the block ends, its output in ``log``; it is ready once ``ready_url``
    answers with one of ``ready_codes``. Stopped with ``stop_signal``, killed if it outlasts
    ``stop_seconds``. A server that exits or is not ready in ``start_seconds`` is a RuntimeError
    showing its log."""
    import httpx  # here: the harness modules that only want a port (pgbouncer.py) do without it

    with open(log, "w") as out:  # a file, not a pipe nobody reads: the server never blocks on it
        proc = subprocess.Popen(list(args), cwd=cwd, env=dict(env), stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + start_seconds
        while True:
            try:
                if httpx.get(ready_url, timeout=5).status_code in ready_codes:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start:\n{log.read_text()}")
            time.sleep(poll_seconds)
        yield proc
    finally:
        proc.send_signal(stop_signal)
        try:
            proc.wait(stop_seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
