"""All three together: an ETL job reports progress (event), warnings and errors (stream), and
stops when a cron-style script sends it a cancel message.

    python examples/etl_job.py [--postgres]
The cancel is sent the way a cron job would, by the command line in its own process:
    dbos-client send "$WF" '{"reason": "..."}' --topic cancel --idempotency-key "cancel-$(date +%F)"
The workflow checks for that message between batches, closes its log and returns what it did.
"""

import json
import subprocess
import sys
import threading

from _launcher import running_scenarios

from dbos_client import DBOSClient


def cron_cancel(url: str, workflow_id: str) -> None:
    """What the crontab line runs; the idempotency key makes a re-run of the job a no-op."""
    message = json.dumps({"reason": "maintenance window"})
    subprocess.run(
        [sys.executable, "-m", "dbos_client", "--url", url, "send", workflow_id, message,
         "--topic", "cancel", "--idempotency-key", f"cancel-{workflow_id}"],
        check=True,
    )  # fmt: skip


def main() -> None:
    with running_scenarios() as url, DBOSClient(system_database_url=url) as client:
        job = client.enqueue({"queue_name": "scenarios", "workflow_name": "etl_job"}, 1000, 50, 0.1)

        def follow_log() -> None:
            for entry in client.read_stream(job.workflow_id, "log"):
                print(f"  log {entry['level']}: {entry['text']}", flush=True)

        reader = threading.Thread(target=follow_log)
        reader.start()
        # Wait until a few batches are in, reading the progress event.
        processed = client.get_event(job.workflow_id, "records_processed", timeout_seconds=30)
        while processed is not None and processed < 300:
            threading.Event().wait(0.1)
            processed = client.get_event(job.workflow_id, "records_processed", timeout_seconds=30)
        print(f"records processed so far: {processed}", flush=True)

        cron_cancel(url, job.workflow_id)
        print("cron: cancel message sent", flush=True)
        result = job.get_result(timeout_seconds=60)
        reader.join()
        print(f"state: {client.get_event(job.workflow_id, 'state', 5)}")
        print(f"result: {result}")


if __name__ == "__main__":
    main()
