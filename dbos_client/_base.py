"""What DBOSClient and AsyncDBOSClient share: their settings, parsed once. No I/O.

The httpx pattern: one base with the configuration, two thin shells that do I/O their
own way (threads and blocking sockets, or asyncio and psycopg's async connections).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import psycopg

from ._calls import ClientCore
from ._config import DatabaseConfig, resolve
from ._hub_state import Registration
from ._options import optional_text, require_text
from ._serialization import Codec
from .errors import InvalidArgumentError
from .models import PollPolicy, RetryPolicy

if TYPE_CHECKING:
    from ._sqlite import SqliteDriver

#: Waits share one poller and one listener, so even many concurrent waits need few
#: connections: 2 in the pool plus the listener's is the most an idle client holds.
DEFAULT_POOL_SIZE = 2
#: The SQLite poller's default tick (a wait wakes about 10 ms after the commit, on average).
#: Each tick while a call waits costs a thread wake-up (about 0.15 ms of CPU on the test
#: machine) and one PRAGMA: 10 ms ticks cost 2.4% of a core, 20 ms 1.4%, 50 ms 0.6%.
SQLITE_POLL_INTERVAL = 0.02
#: Longest a single attempt waits for a pooled connection; retries add to it, within budget.
MAX_CONNECT_WAIT = 10.0
#: Even a call whose deadline has just passed gets this long for its final check.
MIN_CONNECT_WAIT = 0.5


class ClientBase:
    """Settings common to both clients; see ``DBOSClient`` for what each argument means."""

    _kind = "DBOSClient"

    def __init__(
        self,
        *,
        system_database_url: str | None = None,
        dbos_system_schema: str | None = "dbos",
        serializer: Any | None = None,
        application_name: str | None = None,
        system_database_pool_size: int | None = None,
        retry_policy: RetryPolicy | None = None,
        poll_policy: PollPolicy | None = None,
        retry_connection_errors: bool = True,
        lazy: bool = True,
        use_listen_notify: bool = True,
        **unsupported: Any,
    ) -> None:
        if unsupported:
            names = ", ".join(sorted(unsupported))
            raise InvalidArgumentError(f"{self._kind} does not support the argument(s): {names}")
        self._config: DatabaseConfig = resolve(system_database_url)
        codec = Codec(serializer)
        pool_size = DEFAULT_POOL_SIZE if system_database_pool_size is None else system_database_pool_size
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
            raise InvalidArgumentError("system_database_pool_size must be a positive integer")
        self._pool_size = pool_size
        policy = retry_policy or RetryPolicy()
        self._retry_policy = (
            policy if retry_connection_errors else RetryPolicy(max_attempts=1, budget_seconds=policy.budget_seconds)
        )
        waits = poll_policy or PollPolicy()
        self._poll_policy = waits if use_listen_notify else dataclasses.replace(waits, use_notifications=False)
        self._core = ClientCore(
            codec=codec,
            schema_name=require_text(dbos_system_schema or "dbos", "dbos_system_schema"),
            database=self._config.database,
            application_name=optional_text(application_name, "application_name"),
            dialect=self._config.dialect,
        )
        self._closed = False
        #: SQLite files are read through the stdlib driver instead of a psycopg pool.
        self._sqlite: SqliteDriver | None = None
        if self._config.sqlite_path is not None:
            from ._sqlite import SqliteDriver

            self._sqlite = SqliteDriver(self._config.sqlite_path, self._config.display_url, max_idle=pool_size)
            # No NOTIFY in SQLite: the shared poller alone wakes waits. Its idle tick is one
            # PRAGMA data_version (no table read), so it can tick faster than on Postgres.
            interval = SQLITE_POLL_INTERVAL if poll_policy is None else self._poll_policy.interval_seconds
            self._poll_policy = dataclasses.replace(self._poll_policy, interval_seconds=interval, use_notifications=False)
        self._last_connect_error: BaseException | None = None
        # Kept so DBOSClient can build its async twin with the very same settings.
        self._settings = dict(
            system_database_url=system_database_url, dbos_system_schema=dbos_system_schema, serializer=serializer,
            application_name=application_name, system_database_pool_size=system_database_pool_size,
            retry_policy=retry_policy, poll_policy=poll_policy, retry_connection_errors=retry_connection_errors,
            use_listen_notify=use_listen_notify,
        )  # fmt: skip
        self._init_io()

    def _init_io(self) -> None:
        """Each shell sets up its own (lazy) I/O state here."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{self._kind}(url={self._config.display_url!r}, schema={self._core.schema_name!r})"

    def _record_connect_error(self, exc: BaseException | None) -> None:
        self._last_connect_error = exc

    def _connect_wait(self, limit: float | None, now: float) -> float:
        if limit is None:
            return MAX_CONNECT_WAIT
        return min(MAX_CONNECT_WAIT, max(MIN_CONNECT_WAIT, limit - now))

    def _attempt_limit(self, deadline: float | None, now: float) -> float | None:
        """No single attempt may outlast the caller's deadline or the whole retry budget."""
        if self._retry_policy.budget_seconds is None:
            return deadline
        budget_end = now + self._retry_policy.budget_seconds
        return budget_end if deadline is None else min(deadline, budget_end)

    def _unavailable(self, exc: BaseException) -> Exception:
        """The one error a caller sees once transient failures outlived the retries."""
        from .errors import DatabaseUnavailableError

        reason = exc
        if type(exc).__name__ == "PoolTimeout" and self._last_connect_error is not None:
            reason = self._last_connect_error  # why the pool had no connection to give
        error = DatabaseUnavailableError(
            f"the system database at {self._config.display_url} is unreachable: {first_line(reason)}",
            url=self._config.display_url,
        )
        error.__cause__ = exc
        return error

    def _schema_changed(self, exc: psycopg.Error) -> Exception:
        from .errors import SchemaError

        error = SchemaError(
            f"the DBOS schema {self._core.schema_name!r} changed under this client ({exc.diag.message_primary})"
        )
        error.__cause__ = exc
        return error


SCHEMA_CHANGED = (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName, psycopg.errors.UndefinedColumn)


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def recording_connection_class(base: type, record: Any) -> type:
    """A Connection (or AsyncConnection) class that reports why connecting failed.

    The pool connects in its own workers and a caller only sees PoolTimeout; this keeps
    the real reason ("connection refused", "password authentication failed") for the
    DatabaseUnavailableError message.
    """
    if issubclass(base, psycopg.AsyncConnection):

        class RecordingAsyncConnection(base):  # type: ignore[valid-type,misc]
            @classmethod
            async def connect(cls, *args: Any, **kwargs: Any) -> Any:
                try:
                    conn = await super().connect(*args, **kwargs)
                except psycopg.Error as exc:
                    record(exc)
                    raise
                record(None)
                return conn

        return RecordingAsyncConnection

    class RecordingConnection(base):  # type: ignore[valid-type,misc]
        @classmethod
        def connect(cls, *args: Any, **kwargs: Any) -> Any:
            try:
                conn = super().connect(*args, **kwargs)
            except psycopg.Error as exc:
                record(exc)
                raise
            record(None)
            return conn

    return RecordingConnection


class OpState:
    """What one running operation holds in a shell: at most one waiter registration."""

    __slots__ = ("waiter",)

    def __init__(self) -> None:
        self.waiter: Registration | None = None
