"""Drive a running interop_app through the *official* ``dbos.DBOSClient``.

Imports only dbos + stdlib so it runs under either dbos venv: the smoke test
imports ``probe()`` in-process for dbos 3.4.0, and runs this file as a script
with the 2.31.1 interpreter (``python dbos_client_probe.py URL [APP_NAME]``,
which prints ``probe()``'s result as one JSON line), because the 3.x client is
not meant to talk to a 2.x system schema.
"""

import json
import sys

from dbos import DBOSClient


def probe(url, app_name="interop"):
    """Enqueue echo / publish_events / stream_values on interop_q and return
    what the client observed, as plain JSON-able data."""
    client = DBOSClient(system_database_url=url, application_name=app_name)
    try:
        opts = {"queue_name": "interop_q", "workflow_name": "echo"}
        echo = client.enqueue(opts, 1, "two", key=[3]).get_result()

        opts = {"queue_name": "interop_q", "workflow_name": "publish_events"}
        h = client.enqueue(opts, 3, 0.05)
        done = client.get_event(h.get_workflow_id(), "done", timeout_seconds=30)
        published = h.get_result()
        progress = client.get_event(h.get_workflow_id(), "progress", timeout_seconds=5)

        opts = {"queue_name": "interop_q", "workflow_name": "stream_values"}
        h = client.enqueue(opts, "s", ["a", {"b": 1}, 3], True, 0.0)
        streamed = list(client.read_stream(h.get_workflow_id(), "s"))
        stream_result = h.get_result()

        return {
            "echo": echo,
            "done": done,
            "progress": progress,
            "published": published,
            "streamed": streamed,
            "stream_result": stream_result,
        }
    finally:
        client.destroy()


if __name__ == "__main__":
    result = probe(sys.argv[1], *sys.argv[2:3])
    print(json.dumps(result), flush=True)
