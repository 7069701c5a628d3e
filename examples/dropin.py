"""Code written for dbos.DBOSClient, run unchanged on dbos_client: only the import differs.

    python examples/dropin.py          # this file, on dbos_client
    (the test suite also runs it with the import switched to `from dbos import DBOSClient`)
"""

import sys

from _launcher import running_shop

from dbos_client import DBOSClient  # the only line that differs from: from dbos import DBOSClient


def run(url: str) -> list:
    client = DBOSClient(system_database_url=url)
    seen = []
    handle = client.enqueue({"queue_name": "orders", "workflow_name": "checkout"}, "B-2", 10)
    seen.append(client.get_event(handle.get_workflow_id(), "payment_id", timeout_seconds=30))
    client.send(handle.get_workflow_id(), {"status": "paid"}, "payment", "webhook-B-2")
    seen.append(handle.get_result())
    seen.append(list(client.read_stream(handle.get_workflow_id(), "log")))
    seen.append(client.get_event(handle.get_workflow_id(), "status", 5))
    again = client.retrieve_workflow(handle.get_workflow_id())
    seen.append(again.get_status().status)

    slow = client.enqueue({"queue_name": "orders", "workflow_name": "slow_report", "workflow_id": "report-1"}, 60)
    client.cancel_workflow(slow.get_workflow_id())
    seen.append(client.retrieve_workflow("report-1").get_status().status)
    client.resume_workflow("report-1")
    seen.append(client.retrieve_workflow("report-1").get_status().status in ("ENQUEUED", "PENDING"))
    client.cancel_workflow("report-1")
    client.destroy()
    return seen


if __name__ == "__main__":
    with running_shop() as url:
        for item in run(url):
            print(item)
    sys.exit(0)
