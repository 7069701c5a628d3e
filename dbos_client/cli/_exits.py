"""Exit codes: what kind of failure a command met, for a script to branch on.

"Timed out" versus "not found" versus "database down": each is its own code, listed in
``--help``. ``main`` maps an exception to its code with ``exit_code_for``.
"""

from __future__ import annotations

from ..errors import (
    DatabaseUnavailableError,
    DBOSClientError,
    InvalidArgumentError,
    MaxRecoveryAttemptsExceededError,
    WaitTimeoutError,
    WorkflowCancelledError,
    WorkflowNotFoundError,
)

EXIT_OK = 0
EXIT_ERROR = 1  # anything not listed below
EXIT_USAGE = 2  # argparse's own code, kept for every usage error
EXIT_TIMEOUT = 3
EXIT_NOT_FOUND = 4
EXIT_WORKFLOW_FAILED = 5
EXIT_UNAVAILABLE = 6
EXIT_INTERRUPTED = 130  # the shell's convention for Ctrl-C (128 + SIGINT)


class WorkflowFailed(Exception):
    """The awaited workflow ended in ERROR. Its own exception is the ``__cause__``."""


class NotFound(LookupError):
    """A queue or schedule named on the command line does not exist (the client returned None)."""


#: Which exception means which exit code. First match wins; anything else is EXIT_ERROR.
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (WaitTimeoutError, EXIT_TIMEOUT),
    (WorkflowNotFoundError, EXIT_NOT_FOUND),
    (WorkflowFailed, EXIT_WORKFLOW_FAILED),
    (WorkflowCancelledError, EXIT_WORKFLOW_FAILED),
    (MaxRecoveryAttemptsExceededError, EXIT_WORKFLOW_FAILED),
    (DatabaseUnavailableError, EXIT_UNAVAILABLE),
    # The client validates before it writes anything: a bad argument is a usage error.
    (InvalidArgumentError, EXIT_USAGE),
)


def exit_code_for(exc: BaseException) -> int:
    """The exit code that tells a script what kind of failure ``exc`` is."""
    for kind, code in EXIT_CODES:
        if isinstance(exc, kind):
            return code
    if isinstance(exc, (NotFound, DBOSClientError)) and isinstance(exc, LookupError):
        # No such queue or schedule here; the client's own "not found" errors are
        # LookupErrors too (an application version, a schedule).
        return EXIT_NOT_FOUND
    return EXIT_ERROR
