"""The database URL: where it comes from, what it may look like, and how it is shown. Pure.

A password must never reach an error, a log line or a repr: everything printable goes
through ``redact``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ._version import __version__
from .errors import InvalidArgumentError

URL_ENV = "DBOS_SYSTEM_DATABASE_URL"
CONNECTION_APPLICATION_NAME = f"dbos_client/{__version__}"
_POSTGRES_SCHEMES = ("postgresql", "postgres")
#: Seconds libpq may spend on one connection attempt when the URL does not say.
DEFAULT_CONNECT_TIMEOUT = 10


def redact(url: str) -> str:
    """The URL with every password replaced by ``***``.

    Deliberately cruder than a URL parser: libpq accepts an unencoded ``#`` or ``?`` in
    a password, where ``urllib`` would end the user part early and show the rest. So
    everything between the first ``:`` of the user part and the last ``@`` is masked.
    Input that is not a URL at all is not shown.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "<not a URL>"
    at = rest.rfind("@")
    if at >= 0:
        user, colon, _ = rest[:at].partition(":")
        rest = f"{user}:***{rest[at:]}" if colon else rest
    head, qmark, query = rest.partition("?")
    if qmark:
        pairs = [(k, "***" if "password" in k.lower() else v) for k, v in parse_qsl(query, keep_blank_values=True)]
        rest = f"{head}?{urlencode(pairs, safe='*')}"
    return f"{scheme}://{rest}"


@dataclass(frozen=True)
class DatabaseConfig:
    conninfo: str
    #: The notification listener's dedicated connection: the same server, or the one
    #: ``listener_database_url`` names (Postgres itself, when calls go through a pooler).
    listener_conninfo: str
    display_url: str
    database: str
    #: "postgresql", or "sqlite" (then ``sqlite_path`` is the file and conninfo is empty).
    dialect: str = "postgresql"
    sqlite_path: str | None = None
    #: libpq's connect_timeout for one attempt, in whole seconds (libpq's unit).
    connect_timeout: int = DEFAULT_CONNECT_TIMEOUT

    def __repr__(self) -> str:
        return f"DatabaseConfig({self.display_url!r})"


def url_of_engine(engine: Any) -> str:
    """The database URL of a SQLAlchemy ``Engine`` or ``AsyncEngine``, read without importing SQLAlchemy.

    This is DBOS's ``system_database_engine``: the client connects to the engine's database
    with its own psycopg connections (it has no SQLAlchemy pool to share). What only the
    engine knows (``connect_args``, a ``creator``) is not carried over, so the URL must hold
    the credentials.
    """
    render = getattr(getattr(engine, "url", None), "render_as_string", None)
    if not callable(render):
        raise InvalidArgumentError(
            f"system_database_engine must be a SQLAlchemy Engine (an object with .url), got {type(engine).__name__}"
        )
    url = render(hide_password=False)
    if not isinstance(url, str):
        raise InvalidArgumentError("system_database_engine.url did not render as a string")
    return url


def resolve(url: str | None, listener_url: str | None = None) -> DatabaseConfig:
    """Validate the URL (or ``DBOS_SYSTEM_DATABASE_URL``) and build the connection strings.

    ``listener_url``, if given, is where the notification listener connects instead.
    """
    if url is None:
        url = os.environ.get(URL_ENV)
        if not url:
            raise InvalidArgumentError(
                f"no system database URL: pass system_database_url=... or set {URL_ENV}"
            )
    if not isinstance(url, str) or not url.strip():
        raise InvalidArgumentError("system_database_url must be a non-empty string")
    shown = redact(url)
    scheme, sep, rest = url.partition("://")
    if not sep:
        # Not echoed: a keyword string or a URL missing its scheme may hold a password in clear.
        raise InvalidArgumentError("system_database_url must be a URL like postgresql://user:password@host:5432/db")
    # SQLAlchemy-style URLs (postgresql+psycopg://) are what DBOS users have: accept them.
    base_scheme = scheme.split("+", 1)[0].lower()
    if base_scheme == "sqlite":
        if listener_url is not None:
            raise InvalidArgumentError("listener_database_url is for Postgres; a SQLite file has no notifications")
        return _resolve_sqlite(url, rest)
    if base_scheme not in _POSTGRES_SCHEMES:
        raise InvalidArgumentError(
            f"system_database_url must be a postgresql:// or sqlite:/// URL, got scheme {scheme!r}"
        )
    conninfo, params = _postgres_conninfo(rest, shown, "system_database_url", listener=False)
    listener_conninfo, _ = _postgres_conninfo(rest, shown, "system_database_url", listener=True)
    if listener_url is not None:
        if not isinstance(listener_url, str) or not listener_url.strip():
            raise InvalidArgumentError("listener_database_url must be a non-empty string")
        l_scheme, l_sep, l_rest = listener_url.partition("://")
        if not l_sep or l_scheme.split("+", 1)[0].lower() not in _POSTGRES_SCHEMES:
            raise InvalidArgumentError("listener_database_url must be a postgresql:// URL (Postgres itself, not a pooler)")
        listener_conninfo, _ = _postgres_conninfo(l_rest, redact(listener_url), "listener_database_url", listener=True)
    timeout = params.get("connect_timeout")
    try:
        connect_timeout = int(timeout) if timeout else DEFAULT_CONNECT_TIMEOUT
    except ValueError:
        raise InvalidArgumentError(f"system_database_url {shown!r}: connect_timeout must be whole seconds") from None
    database = str(params.get("dbname") or params.get("user") or "")
    return DatabaseConfig(
        conninfo=conninfo,
        listener_conninfo=listener_conninfo,
        display_url=redact(f"{base_scheme}://{rest}"),
        database=database,
        connect_timeout=connect_timeout,
    )


def _postgres_conninfo(rest: str, shown: str, what: str, *, listener: bool) -> tuple[str, dict[str, Any]]:
    """libpq's connection string for ``postgresql://{rest}``, named after this client."""
    libpq_url = f"postgresql://{rest}"
    try:
        params = conninfo_to_dict(libpq_url)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the same bad URL
        # psycopg's message may quote the URL: do not chain it, it could hold the password.
        raise InvalidArgumentError(f"{what} {shown!r} is not a valid Postgres URL ({type(exc).__name__})") from None
    extra = {}
    if "connect_timeout" not in params:
        extra["connect_timeout"] = str(DEFAULT_CONNECT_TIMEOUT)
    # The user's own application_name wins; ours names the client and its version.
    name = params.get("application_name") or CONNECTION_APPLICATION_NAME
    if listener:
        name = f"{name} listener"
    return make_conninfo(libpq_url, **extra, application_name=name), params


def _resolve_sqlite(url: str, rest: str) -> DatabaseConfig:
    """``sqlite:///relative/path`` or ``sqlite:////absolute/path``, as SQLAlchemy and DBOS read them.

    The path is percent-decoded (``%40`` is ``@``, ``%20`` a space, ``%3F`` a ``?`` in the name),
    as ``sqlalchemy.make_url`` decodes it; a literal ``?`` starts a query, which is refused.
    """
    url = redact(url)  # a malformed one may still carry a user:password part
    if "?" in rest:
        raise InvalidArgumentError(
            f"system_database_url {url!r} has query parameters; a SQLite URL takes none (sqlite:///path/to/app.sqlite)"
        )
    host, slash, encoded = rest.partition("/")
    # Percent-decoded as SQLAlchemy decodes the database part (what DBOS opens): sa.URL renders
    # a file named F8nny@db.sqlite as sqlite:///F8nny%40db.sqlite.
    path = unquote(encoded)
    if host or not slash:
        raise InvalidArgumentError(f"system_database_url {url!r} must look like sqlite:///path/to/app.sqlite (three slashes)")
    if not path or path == ":memory:" or path.startswith("file:"):
        # An in-memory database lives in one process: the application's workflows cannot be in it.
        raise InvalidArgumentError(
            f"system_database_url {url!r} names no file; give the SQLite file the DBOS application uses"
        )
    return DatabaseConfig(
        conninfo="", listener_conninfo="", display_url=url, database=path, dialect="sqlite", sqlite_path=path
    )
