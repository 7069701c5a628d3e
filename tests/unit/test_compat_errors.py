"""Our errors as dbos's and SQLAlchemy's classes too, when the process has loaded those.

No dbos and no SQLAlchemy here: small stand-ins are planted in ``sys.modules`` under the
names dbos_client looks for (``dbos._error``, ``sqlalchemy.exc``), with constructors that
fail if called, so these tests are about the composition alone. The real classes are
tested against a real runtime in tests/interop/test_error_names.py.
"""

from __future__ import annotations

import copy
import pickle
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest

import dbos_client
from dbos_client import errors
from dbos_client.errors import (
    ApplicationVersionNotFoundError,
    ConnectionRejectedError,
    DatabaseUnavailableError,
    DBOSAwaitedWorkflowCancelledError,
    DBOSClientError,
    DBOSConflictingWorkflowError,
    DBOSNonExistentWorkflowError,
    DBOSStreamTimeoutError,
    DBOSWorkflowIDInUseError,
    InvalidArgumentError,
    MaxRecoveryAttemptsExceededError,
    ResultTimeoutError,
    SchemaError,
    SerializationError,
    WorkflowIdConflictError,
)

FOREIGN_MODULES = ("dbos", "dbos._error", "sqlalchemy", "sqlalchemy.exc")


class ForeignInitCalled(AssertionError):
    pass


def _refuse_init(self: Any, *args: Any, **kwargs: Any) -> None:
    # Their constructors take other arguments; calling one could fail or copy secrets.
    raise ForeignInitCalled(f"{type(self).__name__}.__init__ called with {args!r}")


def fake_dbos() -> types.ModuleType:
    module = types.ModuleType("dbos._error")
    base = type("DBOSException", (Exception,), {"__init__": _refuse_init, "__module__": "dbos._error"})
    module.DBOSException = base  # type: ignore[attr-defined]
    for name in (
        "DBOSNonExistentWorkflowError", "DBOSConflictingWorkflowError", "DBOSWorkflowIDInUseError",
        "DBOSQueueDeduplicatedError", "DBOSAwaitedWorkflowCancelledError",
        "DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded", "DBOSStreamTimeoutError", "DBOSQueryTimeoutError",
        # Same name as one of ours, another condition (the runtime's dead-lettered workflow).
        "MaxRecoveryAttemptsExceededError",
    ):  # fmt: skip
        setattr(module, name, type(name, (base,), {"__module__": "dbos._error"}))
    return module


def fake_sqlalchemy() -> types.ModuleType:
    module = types.ModuleType("sqlalchemy.exc")

    def cls(name: str, base: type, **attrs: Any) -> type:
        made = type(name, (base,), {"__module__": "sqlalchemy.exc", **attrs})
        setattr(module, name, made)
        return made

    root = cls("SQLAlchemyError", Exception, __init__=_refuse_init, code=None)
    statement = cls("StatementError", root, statement=None, params=None, orig=None, ismulti=None,
                    connection_invalidated=False)  # fmt: skip
    dbapi = cls("DBAPIError", statement, code="dbapi")
    database = cls("DatabaseError", dbapi, code="4xp6")
    cls("OperationalError", database, code="e3q8")
    cls("ProgrammingError", database, code="f405")
    cls("IntegrityError", database, code="gkpj")
    return module


@pytest.fixture(autouse=True)
def no_foreign_modules(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with neither dbos nor SQLAlchemy loaded, and leaves none behind."""
    for name in FOREIGN_MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    yield


@pytest.fixture
def dbos_error(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = fake_dbos()
    monkeypatch.setitem(sys.modules, "dbos._error", module)
    return module


@pytest.fixture
def sa_exc(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = fake_sqlalchemy()
    monkeypatch.setitem(sys.modules, "sqlalchemy.exc", module)
    return module


def raised_from(error: BaseException, cause: BaseException) -> BaseException:
    try:
        raise error from cause
    except BaseException as exc:
        return exc


# -- nothing loaded: our classes alone ------------------------------------------------------------


@pytest.mark.parametrize("cls", [getattr(errors, n) for n in errors.__all__], ids=lambda c: c.__name__)
def test_without_dbos_or_sqlalchemy_every_error_is_exactly_our_class(cls: type) -> None:
    err = _make(cls)
    assert type(err) is cls
    assert not any(name in sys.modules for name in FOREIGN_MODULES)  # never imported, not even lazily


def _make(cls: type) -> Any:
    examples: dict[type, tuple[Any, ...]] = {
        DBOSNonExistentWorkflowError: ("target", "wf-1"),
        DBOSConflictingWorkflowError: ("wf-1", "another function"),
        DBOSWorkflowIDInUseError: ("wf-1", "PENDING", "checkout"),
        errors.DBOSQueueDeduplicatedError: ("wf-1", "orders", "d-1"),
        DBOSAwaitedWorkflowCancelledError: ("wf-1",),
        errors.DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded: ("wf-1",),
        DBOSStreamTimeoutError: ("wf-1", "k", 2.0, 3),
        errors.DBOSQueryTimeoutError: (5.0,),
        errors.WorkflowNotFoundError: ("wf-1",),
    }
    return cls(*examples[cls]) if cls in examples else cls("went wrong", workflow_id="wf-1")


# -- dbos loaded --------------------------------------------------------------------------------

DBOS_NAMED = [
    DBOSNonExistentWorkflowError, DBOSConflictingWorkflowError, DBOSWorkflowIDInUseError,
    errors.DBOSQueueDeduplicatedError, DBOSAwaitedWorkflowCancelledError,
    errors.DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded, DBOSStreamTimeoutError, errors.DBOSQueryTimeoutError,
]  # fmt: skip


@pytest.mark.parametrize("cls", DBOS_NAMED, ids=lambda c: c.__name__)
def test_a_dbos_named_error_is_also_dbos_s_class_of_that_name(cls: type, dbos_error: types.ModuleType) -> None:
    err = _make(cls)
    theirs = getattr(dbos_error, cls.__name__)
    assert isinstance(err, cls) and isinstance(err, theirs) and isinstance(err, dbos_error.DBOSException)
    # Ours first: our attributes, our __str__ and our builtin bases win over theirs.
    mro = type(err).__mro__
    assert mro[1] is cls and mro.index(DBOSClientError) < mro.index(theirs)
    assert type(err).__name__ == cls.__name__ and type(err).__qualname__ == cls.__qualname__
    assert type(err).__module__ == "dbos_client.errors"
    plain = cls.__new__(cls)  # what str and the attributes are without dbos loaded
    plain.__dict__.update(vars(err))
    assert str(err) == str(plain) and str(err).startswith(f"DBOS Error {err.dbos_error_code}: ")
    assert err.args == (err.message,)


def test_what_dbos_s_tests_read_is_set_without_calling_dbos_s_constructor(dbos_error: types.ModuleType) -> None:
    err = DBOSNonExistentWorkflowError("target", "wf-1", "resume_workflow")
    assert isinstance(err, dbos_error.DBOSNonExistentWorkflowError)
    assert (err.destination, err.destination_id, err.workflow_id) == ("target", "wf-1", "wf-1")
    assert err.dbos_error_code == 5 and err.message.startswith("Non-existent target workflow ID: wf-1")
    in_use = DBOSWorkflowIDInUseError("wf-2", "SUCCESS", "echo")
    assert (in_use.workflow_id, in_use.workflow_status, in_use.workflow_name, in_use.dbos_error_code) == (
        "wf-2", "SUCCESS", "echo", 27,
    )  # fmt: skip


def test_builtin_bases_still_catch(dbos_error: types.ModuleType) -> None:
    with pytest.raises(LookupError):
        raise DBOSNonExistentWorkflowError("target", "wf-1")
    with pytest.raises(TimeoutError) as info:
        raise DBOSStreamTimeoutError("wf-1", "k", 1.0, 0)
    assert isinstance(info.value, dbos_error.DBOSStreamTimeoutError)
    with pytest.raises(ValueError) as bad:
        raise InvalidArgumentError("priority must be >= 0")
    assert isinstance(bad.value, dbos_error.DBOSException)


@pytest.mark.parametrize(
    "make",
    [
        lambda: InvalidArgumentError("bad option"),
        lambda: errors.ScheduleNotFoundError("no schedule", schedule_name="s"),
        lambda: errors.NameConflictError("taken", name="q", owner="other"),
        lambda: ApplicationVersionNotFoundError("no application versions found"),
        lambda: errors.WorkflowStateError("still pending", workflow_id="w", status="PENDING"),
        lambda: errors.DBOSException("plain"),
    ],
    ids=["invalid_argument", "schedule_not_found", "name_conflict", "no_version", "workflow_state", "plain"],
)
def test_conditions_dbos_signals_with_a_plain_dbos_exception(make: Any, dbos_error: types.ModuleType) -> None:
    err = make()
    assert isinstance(err, dbos_error.DBOSException)
    assert err.dbos_error_code is None  # as a plain dbos DBOSException's
    assert str(err) == err.message


def test_a_shared_name_for_another_condition_is_not_composed(dbos_error: types.ModuleType) -> None:
    # dbos's MaxRecoveryAttemptsExceededError is the runtime's own dead-lettered workflow;
    # what dbos.DBOSClient raises on get_result is DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded.
    err = MaxRecoveryAttemptsExceededError("dead-lettered", workflow_id="w")
    assert not isinstance(err, dbos_error.MaxRecoveryAttemptsExceededError)
    assert isinstance(err, dbos_error.DBOSException)
    awaited = errors.DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded("w")
    assert isinstance(awaited, dbos_error.DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded)
    assert not isinstance(awaited, dbos_error.MaxRecoveryAttemptsExceededError)


def test_errors_dbos_raises_no_dbos_class_for_stay_ours(dbos_error: types.ModuleType, sa_exc: types.ModuleType) -> None:
    # DBOS raises TypeError for a value it cannot serialize, and has no result timeout.
    for err in (SerializationError("cannot encode"), ResultTimeoutError("too slow", workflow_id="w")):
        assert type(err) in (SerializationError, ResultTimeoutError)


def test_a_raise_site_inside_the_client_gives_the_composed_class(dbos_error: types.ModuleType) -> None:
    with pytest.raises(dbos_error.DBOSException, match="system_database_pool_size"):
        dbos_client.DBOSClient(system_database_url="postgresql://u@h/db", system_database_pool_size=0)


# -- SQLAlchemy loaded ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls, theirs",
    [(DatabaseUnavailableError, "OperationalError"), (ConnectionRejectedError, "OperationalError"),
     (SchemaError, "ProgrammingError")],
    ids=["unavailable", "rejected", "schema"],
)  # fmt: skip
def test_a_database_failure_is_also_sqlalchemy_s_class(cls: type, theirs: str, sa_exc: types.ModuleType) -> None:
    driver = OSError("connection refused")
    err = raised_from(cls("the system database at postgresql://u:***@h/db is unreachable", url="postgresql://u:***@h/db"), driver)
    assert isinstance(err, cls) and isinstance(err, getattr(sa_exc, theirs)) and isinstance(err, sa_exc.DBAPIError)
    assert err.orig is driver  # StatementError's attributes, as SQLAlchemy's __init__ would set them
    assert err.statement is None and err.params is None and err.ismulti is None
    assert err.hide_parameters is False and err.connection_invalidated is False and err.detail == []
    # Our message, not SQLAlchemy's "... (Background on this error at: ...)".
    assert str(err) == "the system database at postgresql://u:***@h/db is unreachable"
    assert err.args == (str(err),)


def test_each_error_gets_its_own_detail_list(sa_exc: types.ModuleType) -> None:
    a, b = DatabaseUnavailableError("a"), DatabaseUnavailableError("b")
    a.detail.append("x")
    assert b.detail == []


def test_orig_after_from_none_is_the_handled_driver_error(sa_exc: types.ModuleType, dbos_error: types.ModuleType) -> None:
    # A fork onto a taken id: DBOS lets SQLAlchemy's IntegrityError through; ours is raised
    # ``from None`` in the handler of the driver's unique violation.
    violation = KeyError("duplicate key value violates unique constraint")
    try:
        try:
            raise violation
        except KeyError:
            raise WorkflowIdConflictError("cannot fork", workflow_id="w") from None
    except sa_exc.IntegrityError as exc:
        caught = exc
    assert caught.orig is violation
    assert isinstance(caught, dbos_error.DBOSException)
    other = OSError("another driver error")
    caught.orig = other  # settable, as SQLAlchemy's attribute is
    assert caught.orig is other


def test_subclasses_with_their_own_dbos_class_are_not_integrity_errors(sa_exc: types.ModuleType, dbos_error: types.ModuleType) -> None:
    err = DBOSConflictingWorkflowError("w", "another function")
    assert isinstance(err, dbos_error.DBOSConflictingWorkflowError)
    assert not isinstance(err, sa_exc.DBAPIError)


def test_only_the_loaded_module_s_classes_are_added(sa_exc: types.ModuleType) -> None:
    err = WorkflowIdConflictError("taken", workflow_id="w")
    assert isinstance(err, sa_exc.IntegrityError)
    assert [c.__module__ for c in type(err).__mro__].count("dbos._error") == 0


# -- pickling, caching, failures ------------------------------------------------------------------


def test_pickle_names_our_own_class_and_unpickling_composes_again(
    monkeypatch: pytest.MonkeyPatch, dbos_error: types.ModuleType, sa_exc: types.ModuleType
) -> None:
    err = DBOSNonExistentWorkflowError("target", "wf-1")
    unavailable = DatabaseUnavailableError("down", url="postgresql://u:***@h/db")
    payloads = [pickle.dumps(e) for e in (err, unavailable)]
    assert all(b"dbos._error" not in p and b"sqlalchemy" not in p for p in payloads)
    again = pickle.loads(payloads[0])
    assert type(again) is type(err) and again.destination_id == "wf-1" and str(again) == str(err)
    assert type(copy.copy(unavailable)) is type(unavailable) and copy.deepcopy(unavailable).url == unavailable.url
    # A process without dbos and SQLAlchemy gets our plain classes back.
    monkeypatch.delitem(sys.modules, "dbos._error")
    monkeypatch.delitem(sys.modules, "sqlalchemy.exc")
    assert type(pickle.loads(payloads[0])) is DBOSNonExistentWorkflowError
    plain = pickle.loads(payloads[1])
    assert type(plain) is DatabaseUnavailableError and plain.url == "postgresql://u:***@h/db"


def test_composed_classes_are_made_once_per_set_of_foreign_classes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dbos._error", fake_dbos())
    first = type(DBOSAwaitedWorkflowCancelledError("a"))
    assert type(DBOSAwaitedWorkflowCancelledError("b")) is first
    # Another dbos (a reload, another test's stand-in): other classes, another composition.
    monkeypatch.setitem(sys.modules, "dbos._error", fake_dbos())
    second = type(DBOSAwaitedWorkflowCancelledError("c"))
    assert second is not first and issubclass(second, sys.modules["dbos._error"].DBOSAwaitedWorkflowCancelledError)


def test_a_module_still_importing_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dbos._error", types.ModuleType("dbos._error"))  # no classes yet
    assert type(DBOSNonExistentWorkflowError("target", "w")) is DBOSNonExistentWorkflowError


def test_a_class_that_cannot_be_combined_leaves_ours_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    # SyntaxError's instance layout conflicts with OSError's (our stream timeout is a TimeoutError).
    module = fake_dbos()
    module.DBOSStreamTimeoutError = type("DBOSStreamTimeoutError", (SyntaxError,), {})  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "dbos._error", module)
    err = DBOSStreamTimeoutError("w", "k", 1.0, 0)
    assert type(err) is DBOSStreamTimeoutError and isinstance(err, TimeoutError)


def test_a_type_that_is_not_an_exception_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    module = fake_dbos()
    module.DBOSNonExistentWorkflowError = "not a class"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "dbos._error", module)
    assert type(DBOSNonExistentWorkflowError("target", "w")) is DBOSNonExistentWorkflowError


def test_constructing_a_composed_class_again_keeps_it(dbos_error: types.ModuleType) -> None:
    err = DBOSNonExistentWorkflowError("target", "w")
    again = type(err)("target", "w2")
    assert type(again) is type(err) and again.destination_id == "w2"
