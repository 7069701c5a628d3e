"""The error hierarchy, its structured attributes, and that errors survive pickling."""

from __future__ import annotations

import copy
import pickle
import sys
from collections.abc import Iterator

import pytest

import dbos_client
from dbos_client import errors
from dbos_client.errors import (
    DatabaseUnavailableError,
    DBOSClientError,
    DeduplicatedError,
    InvalidArgumentError,
    MaxRecoveryAttemptsExceededError,
    ResultTimeoutError,
    SchemaError,
    SerializationError,
    StreamTimeoutError,
    WaitTimeoutError,
    WorkflowCancelledError,
    WorkflowConflictError,
    WorkflowIdConflictError,
    WorkflowNotFoundError,
)

ALL_ERRORS = [getattr(errors, name) for name in errors.__all__]
#: dbos.DBOSClient's names take DBOS's constructor arguments; their own tests are in test_dbos_names.py.
DBOS_NAMED = [cls for cls in ALL_ERRORS if cls.__name__.startswith("DBOS") and cls.__init__ is not DBOSClientError.__init__]
OWN_ERRORS = [cls for cls in ALL_ERRORS if cls not in DBOS_NAMED]


def make(cls: type) -> DBOSClientError:
    if cls is WorkflowNotFoundError:
        return WorkflowNotFoundError("wf-1", "get_status")
    return cls("something went wrong", workflow_id="wf-1", key="k", count=3)


#: With these loaded, each error is also their class for the condition (``errors._compat_class``,
#: tested in test_compat_errors.py), so ``type(err)`` is a composed subclass. The fast loop never
#: loads them, but a whole-suite run does (the interop tests import dbos first, in this process):
#: hide them here (never unloading anything) so these tests see the same process in both runs.
FOREIGN_ERROR_MODULES = ("dbos._error", "sqlalchemy.exc")


@pytest.fixture(autouse=True)
def _no_foreign_error_modules(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in FOREIGN_ERROR_MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    yield


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda c: c.__name__)
def test_every_error_is_a_dbos_client_error(cls: type) -> None:
    assert issubclass(cls, DBOSClientError)
    assert issubclass(cls, Exception)
    assert cls.__doc__


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda c: c.__name__)
def test_every_error_is_exported_from_the_package(cls: type) -> None:
    assert getattr(dbos_client, cls.__name__) is cls
    assert cls.__name__ in dbos_client.__all__


def test_errors_all_lists_every_error_class() -> None:
    found = {name for name, obj in vars(errors).items() if isinstance(obj, type) and issubclass(obj, BaseException)}
    assert found == set(errors.__all__)


@pytest.mark.parametrize(
    "cls, base",
    [
        (InvalidArgumentError, ValueError),
        (WorkflowNotFoundError, LookupError),
        (WaitTimeoutError, TimeoutError),
        (ResultTimeoutError, TimeoutError),
        (StreamTimeoutError, TimeoutError),
        (ResultTimeoutError, WaitTimeoutError),
        (StreamTimeoutError, WaitTimeoutError),
        (WorkflowIdConflictError, WorkflowConflictError),
        (DeduplicatedError, WorkflowConflictError),
    ],
)
def test_hierarchy(cls: type, base: type) -> None:
    assert issubclass(cls, base)


@pytest.mark.parametrize(
    "cls",
    [DatabaseUnavailableError, SchemaError, SerializationError, WorkflowCancelledError, MaxRecoveryAttemptsExceededError, WorkflowConflictError],
)
def test_non_builtin_errors_are_not_value_or_timeout_errors(cls: type) -> None:
    assert not issubclass(cls, (ValueError, LookupError, TimeoutError))


def test_deduplicated_is_not_an_id_conflict() -> None:
    assert not issubclass(DeduplicatedError, WorkflowIdConflictError)
    assert not issubclass(WorkflowIdConflictError, DeduplicatedError)


def test_timeout_error_is_catchable_as_builtin() -> None:
    with pytest.raises(TimeoutError):
        raise ResultTimeoutError("waited too long", workflow_id="w")


def test_invalid_argument_is_catchable_as_value_error() -> None:
    with pytest.raises(ValueError):
        raise InvalidArgumentError("bad")


def test_structured_attributes() -> None:
    err = DeduplicatedError("dup", workflow_id="w", queue_name="q", deduplication_id="d")
    assert (err.workflow_id, err.queue_name, err.deduplication_id) == ("w", "q", "d")
    assert err.message == str(err) == "dup"
    assert err.args == ("dup",)


def test_workflow_not_found() -> None:
    err = WorkflowNotFoundError("wf-9", "send destination")
    assert err.workflow_id == "wf-9"
    assert "wf-9" in str(err)
    assert "send destination" in str(err)
    plain = WorkflowNotFoundError("wf-9")
    assert str(plain) == "No workflow with id 'wf-9' exists."


def test_timeout_errors_are_plain_messages_despite_oserror_base() -> None:
    err = StreamTimeoutError("no value within 5s", workflow_id="w", key="k")
    assert str(err) == "no value within 5s"
    assert err.errno is None
    assert err.key == "k"


@pytest.mark.parametrize("cls", OWN_ERRORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_pickle_round_trip(cls: type, protocol: int) -> None:
    err = make(cls)
    copy_ = pickle.loads(pickle.dumps(err, protocol=protocol))
    assert type(copy_) is cls
    assert str(copy_) == str(err)
    assert copy_.message == err.message
    assert copy_.args == err.args
    assert copy_.workflow_id == "wf-1"
    if cls is not WorkflowNotFoundError:
        assert (copy_.key, copy_.count) == ("k", 3)


@pytest.mark.parametrize("cls", OWN_ERRORS, ids=lambda c: c.__name__)
def test_copy_and_deepcopy(cls: type) -> None:
    err = make(cls)
    for dup in (copy.copy(err), copy.deepcopy(err)):
        assert type(dup) is cls
        assert str(dup) == str(err)
        assert dup.workflow_id == "wf-1"


def test_error_without_details_round_trips() -> None:
    err = pickle.loads(pickle.dumps(SchemaError("no schema")))
    assert type(err) is SchemaError and str(err) == "no schema"


def test_pickled_error_can_be_raised_and_caught_by_base() -> None:
    err = pickle.loads(pickle.dumps(ResultTimeoutError("late", workflow_id="w")))
    with pytest.raises(TimeoutError):
        raise err
