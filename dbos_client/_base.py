"""What DBOSClient and AsyncDBOSClient share: settings, failure policy, op stepping. No I/O.

The httpx pattern: one base with everything that is not I/O, two thin shells that do
I/O their own way (threads and blocking sockets, or asyncio and psycopg's async
connections). A shell method is either a public call (validate with ``_calls``, drive
the op) or a piece of I/O (run a statement, wait, connect); nothing else.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import psycopg

from ._calls import ClientCore
from ._config import DatabaseConfig, resolve, url_of_engine
from ._hub_state import Registration
from ._ops import ConstraintViolation, Op
from ._options import optional_text, require_text
from ._retry import is_rejected, is_transient, retrying
from ._serialization import Codec
from ._text import first_line
from .errors import (
    ConnectionRejectedError,
    DatabaseUnavailableError,
    DBOSClientError,
    InvalidArgumentError,
    SchemaError,
)
from .models import PollPolicy, RetryPolicy

if TYPE_CHECKING:
    from ._sqlite import SqliteDriver

logger = logging.getLogger("dbos_client")
R = TypeVar("R")

#: Waits share one poller and one listener, so even many concurrent waits need few
#: connections: 2 in the pool plus the listener's is the most an idle client holds.
DEFAULT_POOL_SIZE = 2
#: The SQLite poller's default tick (a wait wakes about 10 ms after the commit, on average).
#: Each tick while a call waits costs a thread wake-up (about 0.15 ms of CPU on the test
#: machine) and one PRAGMA: 10 ms ticks cost 2.4% of a core, 20 ms 1.4%, 50 ms 0.6%.
SQLITE_POLL_INTERVAL = 0.02
#: libpq refuses a connect_timeout under 2 s (it rounds it up), so neither do we.
MIN_CONNECT_TIMEOUT = 2


class ClientBase:
    """Settings and the I/O-free half of both clients; see ``DBOSClient`` for the arguments.

    Everything here is shared by ``DBOSClient`` and ``AsyncDBOSClient``: the parsed
    settings, how a connection is asked for, which failures are retried and what the
    caller sees when they are not, closed-state checks, and the op-driving steps. The
    shells only do I/O: threads and blocking sockets, or asyncio.
    """

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
        lazy: bool = False,
        use_listen_notify: bool | None = None,
        listener_database_url: str | None = None,
        password_provider: Callable[[], str] | None = None,
        prepare_threshold: int | None = None,
        system_database_polling_concurrency: int | None = None,
        observability_query_timeout_sec: float | None = None,
        sys_db_idle_transaction_timeout_sec: float | None = None,
        sharding: bool = False,
        system_database_engine: Any = None,
        **unsupported: Any,
    ) -> None:
        if unsupported:
            names = ", ".join(sorted(unsupported))
            raise InvalidArgumentError(f"{self._kind} does not support the argument(s): {names}")
        if use_listen_notify is not None and not isinstance(use_listen_notify, bool):
            raise InvalidArgumentError("use_listen_notify must be True, False or None")
        if lazy and use_listen_notify:
            # As dbos.DBOSClient: an explicit True means a listener that connects at construction.
            raise InvalidArgumentError(
                f"{self._kind} cannot be both lazy and use_listen_notify=True: the notification listener "
                "connects at construction (leave use_listen_notify unset to listen from the first wait on)"
            )
        self._lazy = bool(lazy)
        #: use_listen_notify=True, said explicitly: start the listener as soon as connected, as DBOS does.
        self._listen_at_once = use_listen_notify is True
        check_dbos_only_settings(
            system_database_polling_concurrency, observability_query_timeout_sec,
            sys_db_idle_transaction_timeout_sec, sharding,
        )  # fmt: skip
        if system_database_engine is not None:  # as in DBOS, the engine's database wins over the URL
            system_database_url = url_of_engine(system_database_engine)
        self._config: DatabaseConfig = resolve(system_database_url, listener_database_url)
        if password_provider is not None and not callable(password_provider):
            raise InvalidArgumentError("password_provider must be a callable that returns the password")
        self._password_provider = password_provider
        if prepare_threshold is not None and (
            isinstance(prepare_threshold, bool) or not isinstance(prepare_threshold, int) or prepare_threshold < 0
        ):
            raise InvalidArgumentError("prepare_threshold must be None or a non-negative integer")
        self._prepare_threshold = prepare_threshold
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
        self._poll_policy = waits if use_listen_notify is not False else dataclasses.replace(waits, use_notifications=False)
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
            self._poll_policy = dataclasses.replace(
                self._poll_policy, interval_seconds=interval, use_notifications=False
            )
        # Kept so DBOSClient can build its async twin with the very same settings.
        self._settings: dict[str, Any] = dict(
            system_database_url=system_database_url, dbos_system_schema=dbos_system_schema, serializer=serializer,
            application_name=application_name, system_database_pool_size=system_database_pool_size,
            retry_policy=retry_policy, poll_policy=poll_policy, retry_connection_errors=retry_connection_errors,
            use_listen_notify=use_listen_notify, listener_database_url=listener_database_url,
            password_provider=password_provider, prepare_threshold=prepare_threshold,
            system_database_polling_concurrency=system_database_polling_concurrency,
            observability_query_timeout_sec=observability_query_timeout_sec,
            sys_db_idle_transaction_timeout_sec=sys_db_idle_transaction_timeout_sec,
        )  # fmt: skip
        self._init_io()
        if not self._lazy:
            self._connect_at_construction()

    def _init_io(self) -> None:
        """Each shell sets up its own (lazy) I/O state here."""
        raise NotImplementedError

    def _connect_at_construction(self) -> None:
        """What ``lazy=False`` does in the constructor (the async shell defers it to ``__aenter__``)."""

    @contextlib.contextmanager
    def _single_attempt(self) -> Iterator[None]:
        """No retries while the block runs: the constructor's check, as dbos.DBOSClient's, is one
        attempt, so an unreachable database fails the constructor at once, not after the budget."""
        policy = self._retry_policy
        self._retry_policy = RetryPolicy(max_attempts=1, budget_seconds=policy.budget_seconds)
        try:
            yield
        finally:
            self._retry_policy = policy

    def _construction_deadline(self) -> float:
        """The constructor's check gets the connect timeout to connect, and as long again for
        its queries: bounded even with ``RetryPolicy(budget_seconds=None)``."""
        return time.monotonic() + 2 * self._config.connect_timeout

    def __repr__(self) -> str:
        config, core = getattr(self, "_config", None), getattr(self, "_core", None)
        if config is None or core is None:
            return f"{self._kind}(<not configured>)"  # the constructor raised before setting them
        return f"{self._kind}(url={config.display_url!r}, schema={core.schema_name!r})"

    # -- connections -----------------------------------------------------------------

    def _connect_kwargs(self, deadline: float | None) -> dict[str, Any]:
        """Keyword arguments for one new connection, asked for just before connecting.

        No server-side prepared statements unless ``prepare_threshold`` asks for them (a
        transaction pooler would mix them up), the password from ``password_provider`` if there is one (a token may have rotated),
        and a connect timeout that does not outlast the call's deadline.
        """
        kwargs: dict[str, Any] = {"autocommit": True, "prepare_threshold": self._prepare_threshold}
        timeout = self._config.connect_timeout
        if deadline is not None:
            timeout = min(timeout, max(MIN_CONNECT_TIMEOUT, math.ceil(deadline - time.monotonic())))
        kwargs["connect_timeout"] = timeout
        if self._password_provider is not None:
            try:
                password = self._password_provider()
            except Exception as exc:
                raise DBOSClientError(f"password_provider raised {type(exc).__name__}") from exc
            if not isinstance(password, str):
                raise InvalidArgumentError(f"password_provider returned {type(password).__name__}, not a str")
            kwargs["password"] = password
        return kwargs

    def _check_open(self) -> None:
        if self._closed:
            raise DBOSClientError(f"this {self._kind} is closed")

    def _check_still_open_after_wait(self) -> None:
        if self._closed:
            raise DBOSClientError(f"this {self._kind} was closed while the call was waiting")

    # -- failures --------------------------------------------------------------------

    def _attempt_limit(self, deadline: float | None, now: float) -> float | None:
        """No single attempt may outlast the caller's deadline or the whole retry budget."""
        if self._retry_policy.budget_seconds is None:
            return deadline
        budget_end = now + self._retry_policy.budget_seconds
        return budget_end if deadline is None else min(deadline, budget_end)

    def _retries_after(self, exc: BaseException) -> bool:
        """Whether a failed first attempt goes on to tenacity's retries."""
        if not is_transient(exc) or self._retry_policy.max_attempts == 1:
            return False
        logger.warning("system database call failed (%s); retrying", type(exc).__name__)
        return True

    def _retrying(self, limit: float | None, *, asynchronous: bool = False) -> Any:
        # Tenacity only from the second attempt on: a statement that succeeds costs nothing more.
        # Its stop is the absolute limit fixed before the first attempt, which the budget counts.
        return retrying(self._retry_policy, deadline=limit, attempts_made=1, asynchronous=asynchronous)

    def _translated(self, exc: BaseException) -> BaseException | None:
        """What the caller sees for a statement that finally failed; None: the error itself."""
        if isinstance(exc, SCHEMA_CHANGED):
            return self._schema_changed(exc)
        if is_rejected(exc):
            return self._rejected(exc)
        if is_transient(exc):
            return self._unavailable(exc)
        return None

    def _unavailable(self, exc: BaseException) -> Exception:
        """The one error a caller sees once transient failures outlived the retries."""
        return DatabaseUnavailableError(
            f"the system database at {self._config.display_url} is unreachable: {first_line(exc)}",
            url=self._config.display_url,
        )

    def _rejected(self, exc: BaseException) -> Exception:
        return ConnectionRejectedError(
            f"the system database at {self._config.display_url} refused the connection: {first_line(exc)} "
            "(not retried: check the URL, the credentials and the TLS settings)",
            url=self._config.display_url,
        )

    def _schema_changed(self, exc: psycopg.Error) -> Exception:
        return SchemaError(
            f"the DBOS schema {self._core.schema_name!r} changed under this client ({exc.diag.message_primary})"
        )

    # -- driving operations ----------------------------------------------------------

    @staticmethod
    def _advance(op: Op[Any], outcome: tuple[Any, BaseException | None]) -> Any:
        """Hand the last action's result (or error) to the op; its next action, or StopIteration."""
        reply, error = outcome
        return op.throw(error) if error is not None else op.send(reply)

    def _finish(self, op: Op[Any], state: OpState) -> None:
        """An op ended (returned, raised, or was abandoned): close it, drop its waiter."""
        op.close()
        hub = getattr(self, "_hub", None)
        if state.waiter is not None and hub is not None:
            hub.unsubscribe(state.waiter)


def check_dbos_only_settings(
    polling_concurrency: Any, query_timeout: Any, idle_transaction_timeout: Any, sharding: Any
) -> None:
    """DBOS 3.4's constructor keywords that mean nothing different here: checked, then unused.

    The shared poller asks one query per tick however many calls wait, so there is no
    concurrency of polling reads to limit; every statement runs in autocommit mode, so
    no transaction is left idle. Only a sharded database changes what the client must do.
    """
    if sharding:
        raise InvalidArgumentError(
            "sharding=True (a sharded system database behind dbos-enterprise's router) is not supported: "
            "this client reads and writes the tables of one database directly"
        )
    if polling_concurrency is not None and (isinstance(polling_concurrency, bool) or not isinstance(polling_concurrency, int)):
        raise InvalidArgumentError("system_database_polling_concurrency must be an integer or None")
    for name, value in (
        ("observability_query_timeout_sec", query_timeout),
        ("sys_db_idle_transaction_timeout_sec", idle_transaction_timeout),
    ):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise InvalidArgumentError(f"{name} must be a number of seconds or None")


SCHEMA_CHANGED = (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName, psycopg.errors.UndefinedColumn)
#: An outcome with no reply and no error: what ``Emit`` and the waits send back.
NOTHING: tuple[Any, BaseException | None] = (None, None)
#: The database errors a ``Query`` hands back to the op, which knows what they mean.
OP_ERRORS = (psycopg.Error, ConstraintViolation)


class HandleBase(Generic[R]):
    """What both handle classes share: the id, and no I/O until a method is called."""

    def __init__(self, client: Any, workflow_id: str) -> None:
        self._client = client
        self.workflow_id = workflow_id

    def get_workflow_id(self) -> str:
        """The workflow's id. No I/O."""
        return self.workflow_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.workflow_id!r})"


class OpState:
    """What one running operation holds in a shell: at most one waiter registration."""

    __slots__ = ("waiter",)

    def __init__(self) -> None:
        self.waiter: Registration | None = None
