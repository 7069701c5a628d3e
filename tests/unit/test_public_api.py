"""The public surface: exports, docstrings, drop-in compatibility with dbos.DBOSClient 3.4.0, purity."""

from __future__ import annotations

import ast
import inspect
import types
from pathlib import Path
from typing import Any

import pytest

import dbos_client
from dbos_client import DBOSClient, WorkflowHandle

PACKAGE_DIR = Path(dbos_client.__file__).parent


# -- exports --------------------------------------------------------------------------


def test_all_matches_the_public_names() -> None:
    public = {
        name
        for name, obj in vars(dbos_client).items()
        if not name.startswith("_") and not isinstance(obj, types.ModuleType)
    } | set(dbos_client._LAZY)  # loaded on first access (PEP 562)
    assert set(dbos_client._LAZY) <= set(dir(dbos_client))
    assert set(dbos_client.__all__) == public | {"__version__"}
    assert len(dbos_client.__all__) == len(set(dbos_client.__all__))


def test_every_name_in_all_exists() -> None:
    for name in dbos_client.__all__:
        assert hasattr(dbos_client, name), name


def test_star_import() -> None:
    namespace: dict[str, Any] = {}
    exec("from dbos_client import *", namespace)
    assert set(dbos_client.__all__) <= set(namespace)


def test_version_matches_the_distribution() -> None:
    from importlib.metadata import version

    assert dbos_client.__version__ == version("dbos-client")


# -- docstrings -----------------------------------------------------------------------


def public_members(cls: type) -> list[str]:
    """Public names defined by the class or a base of ours (the handles share one base)."""
    return [name for name in dir(cls) if not name.startswith("_") and not hasattr(object, name)]


@pytest.mark.parametrize("cls", [DBOSClient, WorkflowHandle], ids=lambda c: c.__name__)
def test_classes_have_docstrings(cls: type) -> None:
    assert cls.__doc__ and cls.__doc__.strip()


@pytest.mark.parametrize(
    "cls, name",
    [(cls, name) for cls in (DBOSClient, WorkflowHandle) for name in public_members(cls)],
    ids=lambda v: v if isinstance(v, str) else v.__name__,
)
def test_public_methods_have_docstrings(cls: type, name: str) -> None:
    member = inspect.getattr_static(cls, name)
    if isinstance(member, property):
        member = member.fget
    assert callable(member), f"{cls.__name__}.{name} is not a method"
    assert member.__doc__ and member.__doc__.strip(), f"{cls.__name__}.{name} has no docstring"


def test_the_expected_methods_are_public() -> None:
    expected = {
        "enqueue", "send", "get_event", "get_all_events", "read_stream", "retrieve_workflow",
        "cancel_workflow", "resume_workflow", "close", "destroy", "check_connection",
    }  # fmt: skip
    assert expected <= set(public_members(DBOSClient))
    assert {"get_workflow_id", "get_status", "get_result"} <= set(public_members(WorkflowHandle))


# -- drop-in compatibility with dbos.DBOSClient 3.4.0 -----------------------------------
# (compared with dbos itself in tests/interop/test_dbos_parity.py, which imports these lists)

#: dbos.DBOSClient parameters dbos-client deliberately does not support.
KNOWN_OMISSIONS: dict[str, set[str]] = {
    "__init__": set(),
    "enqueue": set(),
    "send": set(),
    "get_event": set(),
    "read_stream": set(),
    "retrieve_workflow": set(),
    "cancel_workflow": set(),
    "resume_workflow": set(),
    "destroy": set(),
    "send_bulk": set(),
    "send_bulk_async": set(),
    "wait_first": set(),
    "wait_first_async": set(),

    **{
        name + suffix: set()
        for name in ("read_stream_offset", "update_workflow_attributes", "set_workflow_delay", "resume_workflows")
        for suffix in ("", "_async")
    },
}
#: Parameters dbos-client adds (all keyword-only with defaults).
OUR_EXTRAS: dict[str, set[str]] = {
    "__init__": {
        "retry_policy", "poll_policy", "unsupported", "listener_database_url", "password_provider", "prepare_threshold",
    },
    "wait_first": {"timeout_seconds"},
    "wait_first_async": {"timeout_seconds"},
}


def params(func: object) -> dict[str, inspect.Parameter]:
    return dict(inspect.signature(func).parameters)  # type: ignore[arg-type]


def test_our_extras_are_keyword_only_with_defaults() -> None:
    p = params(DBOSClient.__init__)
    for name in ("retry_policy", "poll_policy"):
        assert p[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert p[name].default is None


def test_every_constructor_parameter_is_keyword_only() -> None:
    for name, p in params(DBOSClient.__init__).items():
        if name != "self":
            assert p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_KEYWORD), name


# system_database_engine is supported (its URL is used), but what is not an engine is refused the same way.
@pytest.mark.parametrize("name", sorted(KNOWN_OMISSIONS["__init__"] | {"system_database_engine"}))
def test_omitted_constructor_arguments_are_refused_not_ignored(name: str) -> None:
    with pytest.raises(dbos_client.InvalidArgumentError, match=name):
        unsupported: dict[str, Any] = {name: object()}
        DBOSClient(lazy=True, system_database_url="postgresql://u@127.0.0.1:1/db", **unsupported)


def test_handle_does_no_io() -> None:
    client = DBOSClient(lazy=True, system_database_url="postgresql://u@127.0.0.1:1/db")
    handle: WorkflowHandle[Any] = WorkflowHandle(client, "wf-1")
    assert handle.workflow_id == handle.get_workflow_id() == "wf-1"
    assert repr(handle) == "WorkflowHandle('wf-1')"
    assert client._pool is None


# -- the pure modules stay pure ---------------------------------------------------------

PURE_MODULES = [
    "_ops", "_wait", "_sql", "_sql_common", "_sql_reads", "_sql_writes", "_sql_waits", "_sql_sqlite",
    "_serialization", "_options", "_schema", "_bulk", "_sql_bulk",
]  # fmt: skip
FORBIDDEN_MODULES = {"asyncio", "socket", "threading", "subprocess", "psycopg_pool", "sqlite3"}
FORBIDDEN_NAMES = {"sleep", "connect", "Connection", "AsyncConnection", "ConnectionPool", "AsyncConnectionPool"}


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_module_does_no_io(module: str) -> None:
    source = (PACKAGE_DIR / f"{module}.py").read_text()
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                assert alias.name.split(".")[0] not in FORBIDDEN_MODULES, f"{module} imports {alias.name}"
        elif isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] not in FORBIDDEN_MODULES, f"{module} imports from {node.module}"
            for alias in node.names:
                assert alias.name not in FORBIDDEN_NAMES, f"{module} imports {alias.name} from {node.module}"
        elif isinstance(node, ast.Attribute):
            assert node.attr not in FORBIDDEN_NAMES, f"{module} uses .{node.attr} (line {node.lineno})"
        elif isinstance(node, ast.Name):
            assert node.id not in FORBIDDEN_NAMES, f"{module} uses {node.id} (line {node.lineno})"


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_module_source_grep(module: str) -> None:
    code_lines = [
        line.split("#", 1)[0]
        for line in (PACKAGE_DIR / f"{module}.py").read_text().splitlines()
    ]
    code = "\n".join(code_lines)
    for needle in ("time.sleep", "asyncio", "psycopg.connect", ".connect(", "ConnectionPool", "from time import"):
        assert needle not in code, f"{module} contains {needle!r}"


def test_importing_the_package_loads_neither_sqlite3_nor_the_gateway() -> None:
    """A Postgres script pays for neither; the SQLite driver and FastAPI load on first use."""
    import subprocess
    import sys

    code = "import sys, dbos_client; print(sorted(m for m in ('sqlite3', 'fastapi', 'dbos_client.gateway') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- the operator's surface (queues, fork/rewind, application versions) -----------------
KNOWN_OMISSIONS.update({
    "register_queue": set(), "retrieve_queue": set(), "delete_queue": set(), "list_queues": set(),
    "fork_workflow": set(), "rewind_workflow": set(), "list_application_versions": set(),
    "get_latest_application_version": set(), "set_latest_application_version": set(), "rename_application": set(),
})  # fmt: skip
OUR_EXTRAS.update({"fork_workflow": {"forked_workflow_id"}})
