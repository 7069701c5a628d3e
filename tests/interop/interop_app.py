"""Standalone DBOS application used by the interop tests as the *real* runtime.

Run as ``python tests/interop/interop_app.py`` with:

* ``DBOS_SYSTEM_DATABASE_URL`` (required): postgres URL of the system database;
  DBOS creates/migrates its schema there on launch.
* ``INTEROP_APP_NAME`` (optional, default ``interop``): the DBOS application name.
* ``INTEROP_QUEUE_MODE`` (optional, default ``auto``): how ``interop_q`` is declared.
  ``db`` = ``DBOS.register_queue`` after launch (a row in ``dbos.queues``);
  ``code`` = in-memory ``Queue(...)`` before launch (no row; dbos 2.x only);
  ``auto`` = ``code`` where the Queue constructor still works (2.x), else ``db``.

It prints exactly one ``READY`` line on stdout once the queue is being polled,
then blocks until stdin reaches EOF or SIGTERM/SIGINT, calls ``DBOS.destroy()``
and exits 0.

Only ``dbos`` and the stdlib are imported, and the same file must run unchanged
under dbos 3.4.0 and 2.31.1.  The differences that matter here:

* 3.x: ``Queue(...)`` cannot be constructed by user code (raises DBOSException);
  queues exist only as ``dbos.queues`` rows created by ``DBOS.register_queue``,
  which needs the system database and so must run *after* ``DBOS.launch()``.
  The queue manager thread notices new rows within ~1 s.
* 2.x: ``Queue(...)`` registers an in-memory queue that is polled without any
  ``dbos.queues`` row; ``DBOS.register_queue`` also exists (database-backed).

Workflow names: DBOS registers a function under its ``__qualname__``, so the
module-level functions below are named exactly ``echo``, ``fail``, ... and the
class workflows ``Greeter.greet`` etc. (the status columns DBOS writes for them
are listed in runtime.py's docstring).  Run as a script, this module is
``__main__``, so ``InteropError`` pickles as ``__main__.InteropError``.
"""

import os
import signal
import sys
import threading
import time

from dbos import DBOS, DBOSConfig, DBOSConfiguredInstance

QUEUE_NAME = "interop_q"
# Short polling keeps tests fast; the default is 1 s.
POLLING_INTERVAL_SEC = 0.1


class InteropError(Exception):
    """Custom exception that only this module defines: a client that cannot
    import it must still report the failure clearly."""


# --------------------------------------------------------------------------
# Workflows (module level: the registered name is the function name).
# --------------------------------------------------------------------------


@DBOS.workflow()
def echo(*args, **kwargs):
    return {"args": list(args), "kwargs": kwargs}


@DBOS.workflow()
def fail(message):
    raise ValueError(message)


@DBOS.workflow()
def fail_custom(message):
    raise InteropError(message)


@DBOS.workflow()
def publish_events(n, delay):
    for i in range(n):
        DBOS.set_event("progress", i)
        DBOS.sleep(delay)
    DBOS.set_event("done", {"count": n})
    return n


@DBOS.workflow()
def event_after_message(key, topic, timeout):
    msg = DBOS.recv(topic, timeout_seconds=timeout)
    DBOS.set_event(key, msg)
    return msg


@DBOS.workflow()
def recv_n(topic, n, timeout):
    # A timed-out recv returns None, which is kept as a None entry.
    return [DBOS.recv(topic, timeout_seconds=timeout) for _ in range(n)]


@DBOS.workflow()
def stream_values(key, values, close, delay):
    for v in values:
        DBOS.write_stream(key, v)
        if delay > 0:
            DBOS.sleep(delay)
    if close:
        DBOS.close_stream(key)
    return len(values)


@DBOS.workflow()
def stream_after_message(key, topic, timeout):
    DBOS.write_stream(key, "first")
    msg = DBOS.recv(topic, timeout_seconds=timeout)
    DBOS.write_stream(key, msg)
    DBOS.close_stream(key)
    return "ok"


@DBOS.workflow()
def event_stamped_after_message(key, topic, timeout):
    """Like event_after_message, but the value carries the wall-clock time of its
    set_event, so a benchmark can time the client alone (not the runtime's recv)."""
    msg = DBOS.recv(topic, timeout_seconds=timeout)
    DBOS.set_event(key, {"msg": msg, "at": time.time()})
    return msg


@DBOS.workflow()
def stream_stamped_after_message(key, topic, timeout):
    """Like stream_after_message, with the write time in the second value."""
    DBOS.write_stream(key, "first")
    msg = DBOS.recv(topic, timeout_seconds=timeout)
    DBOS.write_stream(key, {"msg": msg, "at": time.time()})
    DBOS.close_stream(key)
    return "ok"


@DBOS.workflow()
def publish_keys(prefix, n, topic):
    """Wait for a go message, then publish n distinct keys prefix0..prefix{n-1}."""
    DBOS.recv(topic, timeout_seconds=120)
    for i in range(n):
        DBOS.set_event(f"{prefix}{i}", i)
    return n


@DBOS.workflow()
def sleep_wf(seconds):
    DBOS.sleep(seconds)
    return seconds


@DBOS.workflow()
def set_event_value(key, value):
    DBOS.set_event(key, value)
    return value


@DBOS.dbos_class()
class Greeter(DBOSConfiguredInstance):
    """Class-based workflows, for the class_name / instance_name enqueue options.

    Registered names: ``Greeter.greet`` (instance: class_name ``Greeter``,
    config_name ``greeter-1``), ``Greeter.shout`` (static) and
    ``Greeter.describe`` (classmethod: class_name ``Greeter``, no config_name).
    """

    def __init__(self, config_name):
        super().__init__(config_name)

    @DBOS.workflow()
    def greet(self, name):
        return f"hello {name} from {self.config_name}"

    @staticmethod
    @DBOS.workflow()
    def shout(name):
        return f"{name.upper()}!"

    @classmethod
    @DBOS.workflow()
    def describe(cls, name):
        return f"{cls.__name__} describes {name}"


GREETER = Greeter("greeter-1")


# Operator's surface (fork/rewind): steps whose outputs tell a replayed step (its recorded
# stamp) from a re-run one (a fresh stamp).


@DBOS.step()
def stamp_step(label):
    return f"{label}-{os.urandom(4).hex()}"


@DBOS.workflow()
def stamped_steps(n):
    """n steps (function ids 1..n), each a fresh random stamp when it really runs."""
    return [stamp_step(i) for i in range(n)]


@DBOS.workflow()
def stamped_events():
    """Steps 1 and 3 stamp; steps 2 and 4 publish the stamps as events "first" and "second"."""
    first = stamp_step("first")
    DBOS.set_event("first", first)
    second = stamp_step("second")
    DBOS.set_event("second", second)
    return [first, second]

@DBOS.workflow()
def whoami():
    """What the runtime restored for this run: the authenticated user and roles, the
    workflow's attributes (3.x), and the trace context the runtime reads from them (3.x:
    the same function the runtime parents its span with when OTLP is on)."""
    status = DBOS.get_workflow_status(DBOS.workflow_id)
    attributes = getattr(status, "attributes", None)
    trace = None
    try:
        from dbos._context import extract_trace_context, otel_carrier_from_attributes
        from opentelemetry.trace import get_current_span
    except ImportError:  # 2.x has neither
        pass
    else:
        carrier = otel_carrier_from_attributes(attributes)
        ctx = extract_trace_context(carrier) if carrier else None
        if ctx is not None:
            sc = get_current_span(ctx).get_span_context()
            trace = {"trace_id": format(sc.trace_id, "032x"), "span_id": format(sc.span_id, "016x")}
    return {"user": DBOS.authenticated_user, "roles": DBOS.authenticated_roles, "attributes": attributes, "trace": trace}


# --------------------------------------------------------------------------
# Lifecycle
# --------------------------------------------------------------------------


def _queue_mode():
    mode = os.environ.get("INTEROP_QUEUE_MODE", "auto")
    if mode not in ("auto", "code", "db"):
        raise SystemExit(f"INTEROP_QUEUE_MODE must be auto, code or db, not {mode!r}")
    return mode


def _declare_code_queue(required):
    """Declare an in-memory queue (dbos 2.x). Returns False if this dbos
    version forbids constructing Queue directly (3.x)."""
    from dbos import Queue
    from dbos._error import DBOSException  # not re-exported by `dbos` in 2.x/3.x

    try:
        Queue(QUEUE_NAME, polling_interval_sec=POLLING_INTERVAL_SEC)
        return True
    except DBOSException:
        if required:
            raise
        return False


def _wait_for_queue_worker(timeout=10.0):
    """Both versions start a thread named ``queue-worker-<name>`` for each polled
    queue; DB-backed queues are only discovered by a 1 s scan, so wait for it
    so that READY means "enqueued work will be picked up promptly"."""
    wanted = f"queue-worker-{QUEUE_NAME}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(t.name == wanted for t in threading.enumerate()):
            return
        time.sleep(0.05)
    print(f"warning: no {wanted} thread after {timeout}s", file=sys.stderr, flush=True)


def main():
    url = os.environ.get("DBOS_SYSTEM_DATABASE_URL")
    if not url:
        raise SystemExit("DBOS_SYSTEM_DATABASE_URL is required")
    app_name = os.environ.get("INTEROP_APP_NAME", "interop")
    mode = _queue_mode()

    # Same keys in 2.31.1 and 3.4.0. INTEROP_LISTEN_NOTIFY=0 runs the app the way a
    # database created with use_listen_notify=False does: no trigger, no NOTIFY at all.
    config: DBOSConfig = {"name": app_name, "system_database_url": url}
    if os.environ.get("INTEROP_LISTEN_NOTIFY", "1") == "0":
        config["use_listen_notify"] = False
    # Schedules created by a client are picked up within this (the default is 30 s).
    config["scheduler_polling_interval_sec"] = 1.0
    DBOS(config=config)

    code_queue = mode != "db" and _declare_code_queue(required=(mode == "code"))

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    DBOS.launch()
    if not code_queue:
        # Needs the launched system database; creates/updates the dbos.queues row.
        DBOS.register_queue(QUEUE_NAME, polling_interval_sec=POLLING_INTERVAL_SEC)
    _wait_for_queue_worker()

    def _watch_stdin():
        # Returns at EOF (the parent closed our stdin or went away).
        for _ in sys.stdin:
            pass
        stop.set()

    threading.Thread(target=_watch_stdin, name="stdin-watch", daemon=True).start()

    print("READY", flush=True)
    # Waiting with a timeout keeps the main thread responsive to signals.
    while not stop.wait(0.5):
        pass
    DBOS.destroy()
    sys.stdout.flush()
    sys.stderr.flush()
    # os._exit: skip joining leftover non-daemon threads (e.g. a workflow still
    # sleeping in the executor pool) so shutdown is prompt and the code is 0.
    os._exit(0)


if __name__ == "__main__":
    main()
