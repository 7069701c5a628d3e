"""The system database URL: where it comes from, what is accepted, and that the password never shows."""

from __future__ import annotations

import time

import pytest
from psycopg.conninfo import conninfo_to_dict

from dbos_client import AsyncDBOSClient, DBOSClient, InvalidArgumentError, __version__
from dbos_client._config import CONNECTION_APPLICATION_NAME, URL_ENV, DatabaseConfig, redact, resolve

SECRET = "s3cret"


@pytest.fixture(autouse=True)
def no_env_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)


# -- where the URL comes from ------------------------------------------------------------


def test_env_var_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(URL_ENV, "postgresql://envuser@envhost:5433/envdb")
    cfg = resolve(None)
    params = conninfo_to_dict(cfg.conninfo)
    assert (params["user"], params["host"], params["port"], params["dbname"]) == ("envuser", "envhost", "5433", "envdb")
    assert cfg.database == "envdb"


def test_explicit_url_beats_the_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(URL_ENV, "postgresql://envuser@envhost/envdb")
    assert resolve("postgresql://me@here/mine").database == "mine"


def test_env_var_name() -> None:
    assert URL_ENV == "DBOS_SYSTEM_DATABASE_URL"


@pytest.mark.parametrize("env", [None, ""])
def test_missing_url_is_an_error(monkeypatch: pytest.MonkeyPatch, env: str | None) -> None:
    if env is not None:
        monkeypatch.setenv(URL_ENV, env)
    with pytest.raises(InvalidArgumentError) as info:
        resolve(None)
    assert URL_ENV in str(info.value)
    assert "system_database_url" in str(info.value)


@pytest.mark.parametrize("url", ["", "   ", 42, b"postgresql://u@h/db"], ids=repr)
def test_non_string_or_empty_url(url: object) -> None:
    with pytest.raises(InvalidArgumentError, match="system_database_url"):
        resolve(url)  # type: ignore[arg-type]


# -- what is accepted ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, path",
    [
        ("sqlite:///dbos.sqlite", "dbos.sqlite"),
        ("sqlite:////tmp/app dir/x.db", "/tmp/app dir/x.db"),
        ("sqlite+pysqlite:///x.db", "x.db"),
        ("SQLITE:///x.db", "x.db"),
    ],
)
def test_sqlite_file_urls(url: str, path: str) -> None:
    cfg = resolve(url)
    assert (cfg.dialect, cfg.sqlite_path, cfg.display_url) == ("sqlite", path, url)


@pytest.mark.parametrize(
    "url, problem",
    [
        ("sqlite:///:memory:", "names no file"),
        ("sqlite://", "three slashes"),
        ("sqlite://host/x.db", "three slashes"),
        ("sqlite:///x.db?timeout=5", "query parameters"),
    ],
)
def test_sqlite_urls_that_name_no_shared_file(url: str, problem: str) -> None:
    with pytest.raises(InvalidArgumentError, match=problem):
        resolve(url)


@pytest.mark.parametrize(
    "url", ["mysql://u:s3cret@h/db", "mysql+pymysql://u:s3cret@h/db", "mssql://h/db", "http://h/db", "postgresqlx://h/db"]
)
def test_other_databases_are_rejected(url: str) -> None:
    with pytest.raises(InvalidArgumentError, match="postgresql://") as info:
        resolve(url)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("url", ["localhost:5432/db", "user=u dbname=db", "/tmp/db"])
def test_not_a_url(url: str) -> None:
    with pytest.raises(InvalidArgumentError, match="postgresql://"):
        resolve(url)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:s3cret@host:5432/db",
        "postgres://u:s3cret@host:5432/db",
        "postgresql+psycopg://u:s3cret@host:5432/db",
        "postgresql+psycopg2://u:s3cret@host:5432/db",
        "POSTGRESQL://u:s3cret@host:5432/db",
    ],
)
def test_postgres_urls_are_accepted(url: str) -> None:
    cfg = resolve(url)
    params = conninfo_to_dict(cfg.conninfo)
    assert params["user"] == "u"
    assert params["password"] == SECRET
    assert params["host"] == "host"
    assert params["port"] == "5432"
    assert params["dbname"] == "db"
    assert cfg.database == "db"
    assert cfg.display_url.endswith("://u:***@host:5432/db")
    assert "+psycopg" not in cfg.display_url


def test_database_defaults_to_the_user_name() -> None:
    assert resolve("postgresql://alice@host").database == "alice"


def test_application_name_is_added() -> None:
    params = conninfo_to_dict(resolve("postgresql://u@h/db").conninfo)
    assert params["application_name"] == CONNECTION_APPLICATION_NAME == f"dbos_client/{__version__}"


def test_application_name_from_the_url_is_kept() -> None:
    params = conninfo_to_dict(resolve("postgresql://u@h/db?application_name=billing").conninfo)
    assert params["application_name"] == "billing"


def test_connect_timeout_default() -> None:
    assert conninfo_to_dict(resolve("postgresql://u@h/db").conninfo)["connect_timeout"] == "10"


def test_connect_timeout_from_the_url_is_kept() -> None:
    assert conninfo_to_dict(resolve("postgresql://u@h/db?connect_timeout=3").conninfo)["connect_timeout"] == "3"


def test_other_query_parameters_are_kept() -> None:
    params = conninfo_to_dict(resolve("postgresql://u@h/db?sslmode=require&options=-c%20statement_timeout%3D5s").conninfo)
    assert params["sslmode"] == "require"
    assert params["options"] == "-c statement_timeout=5s"


def test_percent_encoded_password_is_decoded_for_libpq_and_hidden() -> None:
    cfg = resolve("postgresql://u:p%40ss%3Aw%2Frd@h/db")
    assert conninfo_to_dict(cfg.conninfo)["password"] == "p@ss:w/rd"
    assert "p%40ss" not in cfg.display_url and "p@ss" not in cfg.display_url


def test_unknown_query_parameter_is_invalid() -> None:
    with pytest.raises(InvalidArgumentError, match="not a valid Postgres URL"):
        resolve("postgresql://u:s3cret@h/db?bogus=1")


# -- the password never shows -------------------------------------------------------------

PASSWORD_URLS = [
    "postgresql://u:s3cret@host:5432/db",
    "postgresql+psycopg://u:s3cret@host/db",
    "postgresql://u@host/db?password=s3cret",
    "postgresql://u@host/db?sslmode=require&password=s3cret",
    "postgresql://u:s3cret@host/db?password=s3cret",
    "postgresql://u:s3cret@host:notaport/db",
    "postgresql://u:s3cret@host:99999999/db",
    "postgresql://u:s3cret@[::1]:5432/db",
    "postgresql://u:s3cret@host1:5432,host2:5433/db",
]


@pytest.mark.parametrize("url", PASSWORD_URLS)
def test_redact_hides_the_password(url: str) -> None:
    shown = redact(url)
    assert SECRET not in shown
    assert "***" in shown


@pytest.mark.parametrize("url", PASSWORD_URLS)
def test_password_never_in_display_url_or_repr(url: str) -> None:
    cfg = resolve(url)
    assert SECRET in cfg.conninfo  # libpq does get it
    assert SECRET not in cfg.display_url
    assert SECRET not in repr(cfg)
    assert SECRET not in str(cfg)
    client = DBOSClient(lazy=True, system_database_url=url)
    assert SECRET not in repr(client)
    assert SECRET not in str(client)


def test_redact_without_password_is_unchanged() -> None:
    assert redact("postgresql://u@host:5432/db") == "postgresql://u@host:5432/db"
    assert redact("postgresql://host/db?sslmode=require") == "postgresql://host/db?sslmode=require"


def test_redact_unparseable() -> None:
    assert SECRET not in redact("postgresql://u:s3cret@[bad/db")


MALFORMED_WITH_PASSWORD = [
    "postgresql://u:s3cret@[bad/db",
    "postgresql://u:s3cret@host/db?bogus=1",
    "postgresql://u@host/db?password=s3cret&bogus=1",
    "postgresql://u:s3cret@host/db?PASSWORD=s3cret",
    "mysql://u:s3cret@host/db",
    "sqlite://u:s3cret@host/db",
    "//u:s3cret@host/db",
]


@pytest.mark.parametrize("url", MALFORMED_WITH_PASSWORD)
def test_password_never_in_errors(url: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        resolve(url)
    err = info.value
    assert SECRET not in str(err)
    assert SECRET not in repr(err)
    assert all(SECRET not in str(a) for a in err.args)
    # No chained psycopg error that might quote the URL.
    assert err.__cause__ is None
    assert err.__suppress_context__ or err.__context__ is None or SECRET not in str(err.__context__)
    with pytest.raises(InvalidArgumentError) as info2:
        DBOSClient(lazy=True, system_database_url=url)
    assert SECRET not in str(info2.value)


@pytest.mark.parametrize(
    "url",
    ["u:s3cret@host/db", "postgresql:/u:s3cret@host/db", "postgresql//u:s3cret@host/db", "host=h user=u password=s3cret"],
)
def test_password_never_in_errors_for_non_urls(url: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        resolve(url)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("url", ["postgresql://u:s3cret@host:notaport/db", "postgresql://u:s3cret@[bad/db", "postgresql://u@host/db?password=s3cret"])
def test_password_never_leaks_from_the_briefed_examples(url: str) -> None:
    try:
        cfg = resolve(url)
    except InvalidArgumentError as exc:
        assert SECRET not in str(exc)
    else:
        assert SECRET not in cfg.display_url and SECRET not in repr(cfg)


@pytest.mark.parametrize("url", ["postgresql://u:s3#cret@host/db", "postgresql://u:s3?cret@host/db"], ids=["hash", "question"])
def test_password_with_unencoded_url_delimiters_is_hidden(url: str) -> None:
    cfg = resolve(url)
    password = conninfo_to_dict(cfg.conninfo)["password"]
    assert password in (SECRET[:2] + "#" + SECRET[2:], SECRET[:2] + "?" + SECRET[2:])  # libpq sees it
    for shown in (cfg.display_url, repr(cfg), repr(DBOSClient(lazy=True, system_database_url=url))):
        assert "s3" not in shown and "cret" not in shown


def test_sslpassword_is_hidden() -> None:
    url = "postgresql://u@host/db?sslmode=require&sslpassword=s3cret"
    cfg = resolve(url)
    assert conninfo_to_dict(cfg.conninfo)["sslpassword"] == SECRET
    assert SECRET not in cfg.display_url


def test_database_config_repr_is_the_display_url() -> None:
    cfg = resolve("postgresql://u:s3cret@h/db")
    assert repr(cfg) == "DatabaseConfig('postgresql://u:***@h/db')"
    assert isinstance(cfg, DatabaseConfig)


# -- constructing a lazy client does no I/O (lazy=False connects: tests/interop/test_connections.py) --


def test_client_construction_does_no_io() -> None:
    url = "postgresql://u:s3cret@127.0.0.1:1/db"  # nothing listens there
    start = time.monotonic()
    client = DBOSClient(lazy=True, system_database_url=url)
    elapsed = time.monotonic() - start
    assert elapsed < 0.5
    assert client._pool is None
    assert client._q is None
    assert repr(client) == "DBOSClient(url='postgresql://u:***@127.0.0.1:1/db', schema='dbos')"
    client.close()  # nothing to close: still no I/O
    client.close()


def test_client_context_manager_without_use_does_no_io() -> None:
    start = time.monotonic()
    with DBOSClient(lazy=True, system_database_url="postgresql://u:s3cret@127.0.0.1:1/db") as client:
        assert client._pool is None
    assert time.monotonic() - start < 0.5


def test_client_takes_the_url_from_the_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(URL_ENV, "postgresql://u:s3cret@127.0.0.1:1/envdb")
    client = DBOSClient(lazy=True)
    assert "envdb" in repr(client)
    assert SECRET not in repr(client)


def test_client_without_any_url_is_an_error() -> None:
    with pytest.raises(InvalidArgumentError, match=URL_ENV):
        DBOSClient(lazy=True)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"system_database_pool_size": 0}, "system_database_pool_size"),
        ({"system_database_pool_size": True}, "system_database_pool_size"),
        ({"system_database_pool_size": 2.0}, "system_database_pool_size"),
        ({"dbos_system_schema": ""}, None),  # "" means the default schema
        ({"dbos_system_schema": "a\x00b"}, "dbos_system_schema"),
        ({"application_name": 5}, "application_name"),
        ({"serializer": object()}, "serializer"),
        ({"system_database_engine": object()}, "system_database_engine"),
        ({"sharding": True}, "sharding"),
    ],
)
def test_client_argument_validation(kwargs: dict, name: str | None) -> None:
    url = "postgresql://u:s3cret@127.0.0.1:1/db"
    if name is None:
        assert "schema='dbos'" in repr(DBOSClient(lazy=True, system_database_url=url, **kwargs))
        return
    with pytest.raises(InvalidArgumentError, match=name) as info:
        DBOSClient(lazy=True, system_database_url=url, **kwargs)
    assert SECRET not in str(info.value)


def test_retry_connection_errors_false_means_one_attempt() -> None:
    client = DBOSClient(lazy=True, system_database_url="postgresql://u@127.0.0.1:1/db", retry_connection_errors=False)
    assert client._retry_policy.max_attempts == 1


def test_dbos_constructor_keywords_are_accepted_where_they_mean_the_same() -> None:
    from dbos_client import DBOSClient

    client = DBOSClient(
        system_database_url="postgresql://u@127.0.0.1:1/db", sharding=False, system_database_polling_concurrency=4,
        observability_query_timeout_sec=30.0, sys_db_idle_transaction_timeout_sec=60, lazy=True,
    )  # fmt: skip
    client.close()


def test_sharding_is_refused_with_the_reason() -> None:
    from dbos_client import DBOSClient

    with pytest.raises(InvalidArgumentError, match="sharding=True"):
        DBOSClient(lazy=True, system_database_url="postgresql://u@127.0.0.1:1/db", sharding=True)


def test_a_failed_constructor_leaves_a_printable_object() -> None:
    from dbos_client import DBOSClient

    client = DBOSClient.__new__(DBOSClient)
    assert repr(client) == "DBOSClient(<not configured>)"


def test_listener_url_is_for_postgres_and_never_shown() -> None:
    from dbos_client._config import resolve

    config = resolve("postgresql://u:pw@pooler:6432/db", "postgresql://u:secret@primary:5432/db")
    assert "host=pooler" in config.conninfo and "host=primary" in config.listener_conninfo
    with pytest.raises(InvalidArgumentError, match="listener_database_url") as info:
        resolve("postgresql://u@pooler/db", "mysql://u:secret@x/db")
    assert "secret" not in str(info.value)
    with pytest.raises(InvalidArgumentError, match="SQLite"):
        resolve("sqlite:///app.sqlite", "postgresql://u@primary/db")


@pytest.mark.parametrize("threshold", [None, 0, 5])
def test_prepare_threshold_reaches_every_new_connection(threshold: int | None) -> None:
    from dbos_client import DBOSClient

    client = DBOSClient(lazy=True, system_database_url="postgresql://u@h/d", prepare_threshold=threshold)
    assert client._connect_kwargs(None)["prepare_threshold"] == threshold


def test_statements_are_never_prepared_by_default() -> None:
    from dbos_client import DBOSClient

    assert DBOSClient(lazy=True, system_database_url="postgresql://u@h/d")._connect_kwargs(None)["prepare_threshold"] is None


@pytest.mark.parametrize("threshold", [-1, 1.5, "5", True])
def test_bad_prepare_threshold_is_named(threshold: object) -> None:
    from dbos_client import DBOSClient, InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="prepare_threshold"):
        DBOSClient(lazy=True, system_database_url="postgresql://u@h/d", prepare_threshold=threshold)  # type: ignore[arg-type]


# -- percent-encoded SQLite paths, decoded as SQLAlchemy (and so DBOS) decodes them ---------

#: (URL, the file DBOS opens). tests/interop/test_url_parity.py checks each against sqlalchemy.make_url.
SQLITE_ENCODED = [
    ("sqlite:///F8nny_dAtaB%40s3%40-n%40m3.sqlite", "F8nny_dAtaB@s3@-n@m3.sqlite"),  # sa.URL.render_as_string's form
    ("sqlite:////tmp/app%20dir/x.db", "/tmp/app dir/x.db"),
    ("sqlite:///what%3F.db", "what?.db"),  # an encoded '?' is part of the name, not a query
    ("sqlite:///100%25.db", "100%.db"),
    ("sqlite:///caf%C3%A9.db", "café.db"),
    ("sqlite:///plain@name.db", "plain@name.db"),
]


@pytest.mark.parametrize("url, path", SQLITE_ENCODED)
def test_sqlite_paths_are_percent_decoded(url: str, path: str) -> None:
    cfg = resolve(url)
    assert (cfg.dialect, cfg.sqlite_path, cfg.database) == ("sqlite", path, path)
    assert cfg.display_url == url  # shown as given


def test_an_encoded_memory_database_still_names_no_file() -> None:
    with pytest.raises(InvalidArgumentError, match="names no file"):
        resolve("sqlite:///%3Amemory%3A")


def test_postgres_database_names_are_percent_decoded_too() -> None:
    assert resolve("postgresql://u@h/F8nny_dAtaB%40s3%40-n%40m3").database == "F8nny_dAtaB@s3@-n@m3"


# -- system_database_engine: the URL of a SQLAlchemy engine, read without SQLAlchemy ----------


class _EngineURL:
    """What SQLAlchemy's URL offers the client: render_as_string (here, of a fixed text)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def render_as_string(self, hide_password: bool = True) -> str:
        return self.text if not hide_password else self.text.replace(SECRET, "***")


class _Engine:
    def __init__(self, text: str) -> None:
        self.url = _EngineURL(text)


def test_an_engine_gives_its_url_with_the_password() -> None:
    client = DBOSClient(system_database_engine=_Engine(f"postgresql+psycopg://u:{SECRET}@127.0.0.1:1/app_sys"), lazy=True)
    assert client._config.database == "app_sys"
    assert conninfo_to_dict(client._config.conninfo)["password"] == SECRET
    assert SECRET not in repr(client)


def test_the_engine_wins_over_the_url_as_in_dbos() -> None:
    client = DBOSClient(
        system_database_url="postgresql://bogus:url@not:42/fake",
        system_database_engine=_Engine("postgresql://u@127.0.0.1:1/real"),
        lazy=True,
    )
    assert client._config.database == "real"


def test_a_sqlite_engine_names_its_file() -> None:
    client = DBOSClient(system_database_engine=_Engine("sqlite:///some/dir/app.sqlite"), lazy=True)
    assert client._config.sqlite_path == "some/dir/app.sqlite"


def test_an_engine_with_a_bad_url_is_refused_without_its_password() -> None:
    with pytest.raises(InvalidArgumentError, match="mysql") as info:
        DBOSClient(system_database_engine=_Engine(f"mysql://u:{SECRET}@h/db"))
    assert SECRET not in str(info.value)


# -- lazy and use_listen_notify, as dbos.DBOSClient 3.4 takes them ------------------------


@pytest.mark.parametrize("cls", ["DBOSClient", "AsyncDBOSClient"])
def test_lazy_with_an_explicit_listener_is_refused_before_any_io(cls: str) -> None:
    import dbos_client
    from dbos_client import DBOSException

    client_class = getattr(dbos_client, cls)
    with pytest.raises(DBOSException, match="lazy") as info:
        client_class(system_database_url="postgresql://u:s3cret@127.0.0.1:1/db", lazy=True, use_listen_notify=True)
    assert isinstance(info.value, InvalidArgumentError)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("listen", [None, False])
def test_lazy_without_an_explicit_listener_is_fine(listen: bool | None) -> None:
    client = DBOSClient(system_database_url="postgresql://u@127.0.0.1:1/db", lazy=True, use_listen_notify=listen)
    assert client._pool is None
    assert client._poll_policy.use_notifications is (listen is None)
    client.close()


@pytest.mark.parametrize("listen", [1, "yes", 0])
def test_use_listen_notify_is_a_bool_or_none(listen: object) -> None:
    with pytest.raises(InvalidArgumentError, match="use_listen_notify"):
        DBOSClient(system_database_url="postgresql://u@127.0.0.1:1/db", lazy=True, use_listen_notify=listen)  # type: ignore[arg-type]


def test_an_async_client_never_connects_in_its_constructor() -> None:
    # lazy=False: entering ``async with`` connects (tests/interop/test_connections.py).
    start = time.monotonic()
    client = AsyncDBOSClient(system_database_url="postgresql://u:s3cret@127.0.0.1:1/db")
    assert time.monotonic() - start < 0.5
    assert client._pool is None
