"""TLS against a real server: ``sslmode=verify-full`` with ``sslrootcert`` works end to end, and a
connection the server or the TLS check refuses for good is one ``ConnectionRejectedError`` at
once (not a retry budget's worth of attempts) whose text never holds the password.

One private cluster serves the module: ``ssl=on`` with a certificate (CN and SAN ``localhost``,
IP 127.0.0.1) signed by a CA the test makes with ``openssl``; the role ``app`` may only log in
over TLS with its scram-sha-256 password. The DBOS app connects as the trusted ``postgres``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from auth_cluster import AuthCluster, make_ca
from conftest import QUEUE
from psycopg.conninfo import conninfo_to_dict
from runtime import DBOSRuntime, create_database, runtime_python

from dbos_client import AsyncDBOSClient, ConnectionRejectedError, DBOSClient

pytestmark = pytest.mark.interop

PASSWORD = "Tls-S3cret-9f2c"
#: A refusal is decided by one connection attempt; no retry budget may show.
REJECT_WITHIN = 2.0


class Server:
    def __init__(self, cluster: AuthCluster, dbname: str, other_ca: str) -> None:
        self.cluster = cluster
        self.dbname = dbname
        self.ca = str(cluster.ca)
        self.other_ca = other_ca

    def url(self, dbname: str | None = None, **kwargs: Any) -> str:
        kwargs.setdefault("password", PASSWORD)
        return self.cluster.url(dbname or self.dbname, **kwargs)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with AuthCluster(PASSWORD, tls=True) as cluster:
        db_url = create_database(cluster.admin_url, prefix="dbos_client_tls")
        dbname = str(conninfo_to_dict(db_url)["dbname"])
        app = DBOSRuntime(runtime_python("3.4.0"), db_url).start()
        try:
            cluster.grant(dbname)
            other_ca = make_ca(cluster.dir / "other", "other_ca")
            yield Server(cluster, dbname, str(other_ca))
        finally:
            app.stop()


def test_verify_full_round_trip(server: Server) -> None:
    url = server.url(host="localhost", sslmode="verify-full", sslrootcert=server.ca)
    with DBOSClient(system_database_url=url) as client:
        handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "event_after_message"}, "k", "t", 60)
        client.send(handle.workflow_id, "over tls", topic="t", idempotency_key="tls-1")
        assert client.get_event(handle.workflow_id, "k", 30) == "over tls"
        assert handle.get_result(timeout_seconds=30) == "over tls"
    assert PASSWORD not in repr(client)


def test_verify_full_round_trip_async(server: Server) -> None:
    url = server.url(host="127.0.0.1", sslmode="verify-full", sslrootcert=server.ca)  # the IP is in the SAN too

    async def main() -> None:
        async with AsyncDBOSClient(system_database_url=url) as client:
            handle = await client.enqueue({"queue_name": QUEUE, "workflow_name": "event_after_message"}, "k", "t", 60)
            await client.send(handle.workflow_id, "async over tls", topic="t")
            assert await client.get_event(handle.workflow_id, "k", 30) == "async over tls"

    asyncio.run(main())


# name -> (URL keyword arguments, words the error must contain)
REJECTIONS: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    "unknown CA": ({"sslmode": "verify-full", "sslrootcert": "OTHER"}, ("certificate",)),
    "host name mismatch": (
        {"host": "wrong.example", "hostaddr": "127.0.0.1", "sslmode": "verify-full", "sslrootcert": "CA"},
        ("wrong.example",),
    ),
    "missing root cert": ({"sslmode": "verify-full", "sslrootcert": "/nonexistent/root.pem"}, ("root certificate",)),
    "wrong password": (
        {"password": "not-the-" + PASSWORD, "sslmode": "verify-full", "sslrootcert": "CA"},
        ("password",),
    ),
    "no TLS, hostssl only": ({"sslmode": "disable"}, ("pg_hba",)),
    "unknown database": (
        {"dbname": "no_such_db", "sslmode": "verify-full", "sslrootcert": "CA"},
        ("no_such_db", "does not exist"),
    ),
}


def _texts(exc: BaseException) -> list[str]:
    """Everything a user or a log could print of an error and its whole chain."""
    texts: list[str] = []
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        texts += [str(current), repr(current), *map(str, current.args)]
        todo += [current.__cause__, current.__context__]
    return texts


def _resolve(server: Server, kwargs: dict[str, str]) -> dict[str, str]:
    resolved = dict(kwargs)
    if resolved.get("sslrootcert") == "CA":
        resolved["sslrootcert"] = server.ca
    elif resolved.get("sslrootcert") == "OTHER":
        resolved["sslrootcert"] = server.other_ca
    return resolved


def _check_rejection(
    exc: BaseException, elapsed: float, words: tuple[str, ...], caplog: pytest.LogCaptureFixture
) -> None:
    print(f"\n[tls] {type(exc).__name__} after {elapsed * 1000:.0f} ms: {exc}")
    assert isinstance(exc, ConnectionRejectedError), repr(exc)
    assert elapsed < REJECT_WITHIN, f"rejected after {elapsed:.2f}s: retried?"
    for word in words:
        assert word.lower() in str(exc).lower(), str(exc)
    for text in _texts(exc):
        assert PASSWORD not in text
    for record in caplog.records:
        assert PASSWORD not in record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            assert not any(PASSWORD in t for t in _texts(record.exc_info[1]))


@pytest.mark.parametrize("case", list(REJECTIONS))
def test_refused_connection_is_one_clear_error_at_once(
    server: Server, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    kwargs, words = REJECTIONS[case]
    caplog.set_level(logging.DEBUG)  # every logger, every level
    client = DBOSClient(system_database_url=server.url(**_resolve(server, kwargs)), lazy=True)
    try:
        start = time.monotonic()
        with pytest.raises(Exception) as info:
            client.send("some-workflow", "hello", topic="t")
        elapsed = time.monotonic() - start
        _check_rejection(info.value, elapsed, words, caplog)
        # A wait is refused the same way, long before its own timeout.
        start = time.monotonic()
        with pytest.raises(ConnectionRejectedError):
            client.get_event("some-workflow", "k", timeout_seconds=30)
        assert time.monotonic() - start < REJECT_WITHIN
    finally:
        client.close()


@pytest.mark.parametrize("case", ["unknown CA", "wrong password"])
def test_refused_connection_is_one_clear_error_at_once_async(
    server: Server, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    kwargs, words = REJECTIONS[case]
    caplog.set_level(logging.DEBUG)

    async def main() -> None:
        async with AsyncDBOSClient(system_database_url=server.url(**_resolve(server, kwargs)), lazy=True) as client:
            start = time.monotonic()
            with pytest.raises(Exception) as info:
                await client.enqueue({"queue_name": QUEUE, "workflow_name": "echo"}, 1)
            _check_rejection(info.value, time.monotonic() - start, words, caplog)
            start = time.monotonic()
            with pytest.raises(ConnectionRejectedError):
                await asyncio.wait_for(client.get_event("some-workflow", "k", timeout_seconds=30), 10)
            assert time.monotonic() - start < REJECT_WITHIN

    asyncio.run(main())
