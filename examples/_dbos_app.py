"""How the examples' DBOS applications run: launch, register their queues, print READY, serve.

The app runs as its own process (the examples' launcher, _launcher.py, starts it). It takes its
system database from DBOS_SYSTEM_DATABASE_URL (a sqlite:/// or postgresql:// URL), prints READY
once its queues are polled, and stops when stdin closes or on SIGTERM.
"""

import os
import signal
import sys
import threading

from dbos import DBOS, DBOSConfig


def serve(name, queues):
    DBOS(config=DBOSConfig(
        name=name,
        system_database_url=os.environ["DBOS_SYSTEM_DATABASE_URL"],
        # On SQLite (no NOTIFY) the app's own recv polls; the default is once a second.
        notification_listener_polling_interval_sec=0.1,
    ))  # fmt: skip
    DBOS.launch()
    for queue in queues:
        DBOS.register_queue(queue, polling_interval_sec=0.1)  # 3.x keeps queues in the database
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    # The queue thread notices a new queue row within about a second.
    for _ in range(50):
        if all(any(t.name == f"queue-worker-{q}" for t in threading.enumerate()) for q in queues):
            break
        stop.wait(0.1)
    print("READY", flush=True)
    stop.wait()
    DBOS.destroy()
