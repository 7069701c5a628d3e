"""The ``dbos-client`` command line (also ``python -m dbos_client``): each subcommand is one client call.

Made for cron jobs and on-call engineers:

* what a command prints on stdout is JSON (indented on a terminal, one line otherwise),
  so it pipes into ``jq``; ``stream`` prints one JSON value per line as the values arrive;
* what went wrong is one line on stderr, ``dbos-client: <message>``, never a traceback;
* the exit code says what kind of failure it was (``EXIT_*``, listed in ``--help``),
  so a script can branch on "timed out" versus "not found" versus "database down".

One module per job: ``_args`` (argument types), ``_output`` (JSON out), ``_table``
(``--format table``), ``_exits`` (exit codes), ``_commands`` (one function per subcommand),
``_parser`` (one entry per subcommand), ``_commands_operator`` and ``_parser_operator`` (the
same for ``queue``, ``fork``, ``rewind``, ``version``, ``schedule``), ``_watch`` (the terminal
UI of ``watch``); this module runs a command and sets up logging.

Only the standard library and ``dbos_client`` are imported: a cron job pays for nothing more.
The URL is never printed by this package; the client's own messages redact its password.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from .. import __version__
from ..client import DBOSClient
from ..errors import DBOSClientError
from ._exits import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    EXIT_WORKFLOW_FAILED,
    NotFound,
    WorkflowFailed,
    exit_code_for,
)
from ._parser import PROG, URL_ENV, build_parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit code (argparse exits 2 itself on a usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    url = args.url or os.environ.get(URL_ENV)
    if not url:
        parser.error(f"no database URL: pass --url or set {URL_ENV}")
    if getattr(args, "serve", False):  # the gateway: its own async client, its own logging
        from . import _serve

        return _serve.run(args, url)
    handlers = _start_logging(args.verbose)
    try:
        # Only ``version list``/``version latest`` act as an application (--application-name).
        application = getattr(args, "client_application_name", None)
        # lazy: a command's own checks (send needs one message...) come before any connection,
        # and its first call connects anyway, with the retry policy that rides out a failover.
        with DBOSClient(
            system_database_url=url, dbos_system_schema=args.schema, application_name=application, lazy=True
        ) as client:
            return int(args.run(client, args))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``| head``). Point stdout at /dev/null so the
        # interpreter's final flush does not complain a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - the CLI's last resort: one line, an exit code
        print(f"{PROG}: {_message(exc)}", file=sys.stderr, flush=True)
        return exit_code_for(exc)
    finally:
        _stop_logging(handlers)


class _OneLine(logging.Formatter):
    """``dbos-client: warning: <message>``: one line, like the errors, and no traceback."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{PROG}: {record.levelname.lower()}: {' '.join(record.getMessage().split())}"


def _start_logging(verbose: bool) -> list[tuple[logging.Logger, logging.Handler, int]]:
    """Route library logging to stderr the CLI's way; returns what to undo.

    By default the client's warnings (a retry, an unknown queue) are shown, one line
    each, and psycopg's pool is silenced: its connection errors are multi-line and the
    final error message already says why the database could not be reached.
    ``--verbose`` shows everything, with times, the way a bug report needs it.
    """
    if verbose:
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        plan = [("dbos_client", handler, logging.DEBUG), ("psycopg", handler, logging.DEBUG)]
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_OneLine())
        # A NullHandler stops logging's last-resort handler from printing psycopg's records.
        plan = [("dbos_client", handler, logging.WARNING), ("psycopg", logging.NullHandler(), logging.WARNING)]
    undo = []
    for name, h, level in plan:
        logger = logging.getLogger(name)
        undo.append((logger, h, logger.level))
        logger.addHandler(h)
        logger.setLevel(level)
    return undo


def _stop_logging(undo: list[tuple[logging.Logger, logging.Handler, int]]) -> None:
    for logger, handler, level in undo:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _message(exc: BaseException) -> str:
    """One line: the client's messages are written for people; others get their type."""
    if isinstance(exc, (DBOSClientError, WorkflowFailed, NotFound)):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    return " ".join(text.split()) or type(exc).__name__


__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_TIMEOUT",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "EXIT_WORKFLOW_FAILED",
    "NotFound",
    "WorkflowFailed",
    "__version__",
    "build_parser",
    "exit_code_for",
    "main",
]
