"""dbos.DBOSClient's exception names, judged by dbos 3.4.0 itself.

First without a database: each ``dbos_client.DBOS*`` class built with the same arguments as
``dbos._error``'s has the same message, ``dbos_error_code`` and attributes. Then against a
real runtime: the same failing call made with ``dbos.DBOSClient`` and with ours raises the
same class name with the same message (ours may add context after it), and our class is
the one ``from dbos_client import <that name>`` gives.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dbos
import pytest
from conftest import UNPOLLED_QUEUE, Runtime
from dbos import _error as dbos_error
from dbos import _serialization as dbos_ser

import dbos_client
from dbos_client._serialization import Codec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "unit"))

from test_dbos_names import EXAMPLES

pytestmark = pytest.mark.interop


@pytest.mark.parametrize("cls, args", [(cls, args) for cls, args, _, _ in EXAMPLES], ids=lambda v: getattr(v, "__name__", ""))
def test_same_message_code_and_attributes_as_dbos(cls: type, args: tuple[Any, ...]) -> None:
    theirs_cls = getattr(dbos_error, cls.__name__)
    theirs, ours = theirs_cls(*args), cls(*args)
    assert ours.message == theirs.message
    assert str(ours) == str(theirs)  # "DBOS Error <code>: <message>"
    assert ours.dbos_error_code == theirs.dbos_error_code
    for name, value in vars(theirs).items():
        if name not in ("message", "inputs"):
            assert getattr(ours, name) == value, name
    # The families match: a dbos DBOSException is one of ours, and so on up the tree.
    assert issubclass(theirs_cls, dbos_error.DBOSException) and issubclass(cls, dbos_client.DBOSException)


def test_an_unavailable_serializer_is_a_type_error_with_dbos_s_message() -> None:
    with pytest.raises(TypeError) as theirs:
        dbos_ser.deserialize_value("x", "custom_json", dbos_ser.DefaultSerializer())
    with pytest.raises(TypeError) as ours:
        Codec().decode("x", "custom_json")
    assert isinstance(ours.value, dbos_client.SerializationError)
    assert str(theirs.value) in str(ours.value)


def _same_failure(runtime: Runtime, call: Callable[[Any], Any]) -> tuple[BaseException, BaseException]:
    """What the call raises with dbos.DBOSClient, then with ours, on the same database."""
    theirs_client = dbos.DBOSClient(system_database_url=runtime.url)
    try:
        with pytest.raises(Exception) as theirs:
            call(theirs_client)
    finally:
        theirs_client.destroy()
    with dbos_client.DBOSClient(system_database_url=runtime.url) as client, pytest.raises(Exception) as ours:
        call(client)
    return theirs.value, ours.value


def _enqueue(**options: Any) -> Callable[[Any], Any]:
    return lambda client: client.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo", **options})


def _cancelled_result(client: Any, workflow_id: str) -> Any:
    return client.retrieve_workflow(workflow_id).get_result()


@pytest.mark.parametrize(
    "scenario",
    ["dedup", "reject", "other_function", "send_unknown", "retrieve_unknown", "cancelled", "priority", "empty_id"],
)
def test_the_client_raises_what_dbos_client_raises(runtime: Runtime, uid: str, scenario: str) -> None:
    if runtime.version != "3.4.0":
        pytest.skip("dbos.DBOSClient 3.4 cannot enqueue onto a 2.x system database")
    with dbos_client.DBOSClient(system_database_url=runtime.url) as setup:
        held = setup.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo", "workflow_id": f"h-{uid}",
                              "deduplication_id": f"d-{uid}"})  # fmt: skip
        if scenario == "cancelled":
            setup.cancel_workflow(held.workflow_id)
    calls: dict[str, Callable[[Any], Any]] = {
        "dedup": _enqueue(deduplication_id=f"d-{uid}", workflow_id=f"x-{uid}"),
        "reject": _enqueue(workflow_id=f"h-{uid}", workflow_id_reuse_policy="reject"),
        "other_function": lambda c: c.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "fail", "workflow_id": f"h-{uid}"}),
        "send_unknown": lambda c: c.send(f"ghost-{uid}", "hello"),
        "retrieve_unknown": lambda c: c.retrieve_workflow(f"ghost-{uid}"),
        "cancelled": lambda c: _cancelled_result(c, f"h-{uid}"),
        "priority": _enqueue(priority=-1),
        "empty_id": _enqueue(workflow_id="  "),
    }
    theirs, ours = _same_failure(runtime, calls[scenario])
    name = type(theirs).__name__
    assert type(ours).__name__ == name or (name == "DBOSException" and isinstance(ours, dbos_client.InvalidArgumentError))
    assert isinstance(ours, getattr(dbos_client, name))
    if name != "DBOSException":  # bad options: our own wording, which names the argument
        assert ours.message.startswith(theirs.message)
        assert str(ours).startswith(str(theirs))
    assert getattr(ours, "dbos_error_code", None) == getattr(theirs, "dbos_error_code", None)


# -- one except clause for the runtime's errors and the client's --------------------------------
#
# This module imports dbos, so dbos._error and sqlalchemy.exc are loaded: each error our
# client raises is then also dbos's class for it (and a database failure SQLAlchemy's),
# and code written for dbos.DBOSClient keeps catching it with the classes it imports.


@pytest.mark.parametrize("call", ["resume", "fork", "retrieve", "read_stream"])
def test_dbos_s_class_catches_the_client_s_unknown_workflow(runtime: Runtime, uid: str, call: str) -> None:
    missing = f"ghost-{uid}"
    calls: dict[str, Callable[[Any], Any]] = {
        "resume": lambda c: c.resume_workflow(missing),
        "fork": lambda c: c.fork_workflow(missing, 1),
        "retrieve": lambda c: c.retrieve_workflow(missing),
        "read_stream": lambda c: list(c.read_stream(missing, "s")),
    }
    with dbos_client.DBOSClient(system_database_url=runtime.url) as client:
        try:
            calls[call](client)
        except dbos_error.DBOSNonExistentWorkflowError as caught:  # imported from the real dbos
            err: BaseException = caught
        else:
            pytest.fail(f"{call} of an unknown workflow raised nothing")
    assert isinstance(err, dbos_client.DBOSNonExistentWorkflowError)  # and still ours
    assert type(err).__name__ == "DBOSNonExistentWorkflowError"
    assert err.destination_id == missing and err.dbos_error_code == 5  # type: ignore[attr-defined]
    # What the runtime itself raises is caught by the same clause.
    assert issubclass(dbos_error.DBOSNonExistentWorkflowError, dbos_error.DBOSException)


def test_dbos_s_classes_catch_the_client_s_refused_enqueues(runtime: Runtime, uid: str) -> None:
    if runtime.version != "3.4.0":
        pytest.skip("workflow_id_reuse_policy is a DBOS 3.4 option")
    options = {"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo", "workflow_id": f"r-{uid}"}
    with dbos_client.DBOSClient(system_database_url=runtime.url) as client:
        client.enqueue(options)
        with pytest.raises(dbos_error.DBOSWorkflowIDInUseError) as in_use:
            client.enqueue({**options, "workflow_id_reuse_policy": "reject"})
        with pytest.raises(dbos_error.DBOSException, match="workflow_id_reuse_policy") as bad:
            client.enqueue({**options, "workflow_id_reuse_policy": "bogus"})
    assert isinstance(in_use.value, dbos_client.DBOSWorkflowIDInUseError)
    assert isinstance(bad.value, dbos_client.InvalidArgumentError) and isinstance(bad.value, ValueError)


#: Nothing listens here: a connection is refused at once.
_UNREACHABLE = "postgresql://postgres:s3cret-pw@127.0.0.1:59999/nowhere"


def test_an_unreachable_database_is_sqlalchemy_s_error_as_with_dbos_client() -> None:
    import sqlalchemy.exc

    options = {"queue_name": "q", "workflow_name": "w"}
    theirs_client = dbos.DBOSClient(system_database_url=_UNREACHABLE, lazy=True, retry_connection_errors=False)
    try:
        with pytest.raises(sqlalchemy.exc.DBAPIError) as theirs:
            theirs_client.enqueue(options)  # type: ignore[arg-type]
    finally:
        theirs_client.destroy()
    # The constructor's own check (lazy=False, as dbos.DBOSClient) raises the same class.
    with pytest.raises(type(theirs.value)):
        dbos_client.DBOSClient(system_database_url=_UNREACHABLE, retry_connection_errors=False)
    client = dbos_client.DBOSClient(system_database_url=_UNREACHABLE, retry_connection_errors=False, lazy=True)
    try:
        client.enqueue(options)  # type: ignore[arg-type]
    except sqlalchemy.exc.DBAPIError as caught:
        ours: BaseException = caught
    else:
        pytest.fail("enqueue on an unreachable database raised nothing")
    finally:
        client.close()
    assert isinstance(ours, type(theirs.value))  # sqlalchemy.exc.OperationalError, as dbos.DBOSClient's
    assert isinstance(ours, dbos_client.DatabaseUnavailableError)
    assert ours.orig is ours.__cause__ and type(ours.orig).__module__.startswith("psycopg")  # type: ignore[attr-defined]
    assert "s3cret-pw" not in str(ours) and "s3cret-pw" not in repr(ours)


def test_a_sqlite_file_that_is_no_database_is_sqlalchemy_s_error_as_with_dbos_client(tmp_path: Path) -> None:
    import sqlalchemy.exc

    path = tmp_path / "not-a-database.sqlite"
    path.write_bytes(b"not a database: " + b"x" * 200)
    url = f"sqlite:///{path}"
    options = {"queue_name": "q", "workflow_name": "w"}
    with pytest.raises(sqlalchemy.exc.DatabaseError) as theirs:
        theirs_client = dbos.DBOSClient(system_database_url=url, lazy=True)
        try:
            theirs_client.enqueue(options)  # type: ignore[arg-type]
        finally:
            theirs_client.destroy()
    with dbos_client.DBOSClient(system_database_url=url) as client, pytest.raises(sqlalchemy.exc.DatabaseError) as ours:
        client.enqueue(options)  # type: ignore[arg-type]
    assert isinstance(theirs.value, sqlalchemy.exc.DBAPIError) and isinstance(ours.value, sqlalchemy.exc.DBAPIError)
    assert isinstance(ours.value, dbos_client.SchemaError)
