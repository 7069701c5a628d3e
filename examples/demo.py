"""The main demo: a real DBOS app runs a checkout; this script talks to it through dbos_client.

    make demo                        # a fresh SQLite file: no database server needed
    python examples/demo.py --postgres   # a fresh database on the Postgres at 127.0.0.1:5432
    DBOS_SYSTEM_DATABASE_URL=postgresql://... python examples/demo.py   # any database
"""

import threading

from _launcher import running_shop

from dbos_client import DBOSClient, WorkflowCancelledError


def main() -> None:
    with running_shop() as url, DBOSClient(system_database_url=url) as client:
        print(f"system database: {url.split('://')[0]}")
        # Messages, events and streams, one after the other, as a backend would use them.
        handle = client.enqueue({"queue_name": "orders", "workflow_name": "checkout"}, "A-17", 42.5)
        print(f"enqueued checkout as {handle.workflow_id}")

        pay_id = client.get_event(handle.workflow_id, "payment_id", timeout_seconds=30)  # blocks
        print(f"event payment_id = {pay_id!r}")

        log = client.read_stream(handle.workflow_id, "log")  # live, in order
        reader = threading.Thread(target=lambda: [print(f"stream log: {line}") for line in log])
        reader.start()

        client.send(handle.workflow_id, {"status": "paid"}, topic="payment", idempotency_key=f"webhook-{pay_id}")
        client.send(handle.workflow_id, {"status": "paid"}, topic="payment", idempotency_key=f"webhook-{pay_id}")
        print("sent the payment webhook twice (delivered once: idempotency key)")

        print(f"result = {handle.get_result(timeout_seconds=30)}")
        reader.join()
        print(f"all events = {client.get_all_events(handle.workflow_id)}")
        print(f"status = {handle.get_status().status}")

        report = client.enqueue({"queue_name": "orders", "workflow_name": "slow_report"}, 60)
        client.cancel_workflow(report.workflow_id)
        try:
            report.get_result(timeout_seconds=30)
        except WorkflowCancelledError as exc:
            print(f"cancelled the slow report: {exc}")


if __name__ == "__main__":
    main()
