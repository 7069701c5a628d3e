"""Events: a workflow publishes `progress` as it works; the client draws a progress bar from it.

    python examples/progress_bar.py [--postgres]
An event holds its key's latest value, so the client blocks for the first one, then reads the
latest value a few times a second, each read one indexed lookup, until the workflow is done.
"""

import sys
import time

from _launcher import running_scenarios

from dbos_client import DBOSClient


def bar(done: int, total: int, width: int = 30) -> str:
    filled = width * done // total
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


def main() -> None:
    with running_scenarios() as url, DBOSClient(system_database_url=url) as client:
        handle = client.enqueue({"queue_name": "scenarios", "workflow_name": "process_items"}, 20, 0.05)
        progress = client.get_event(handle.workflow_id, "progress", timeout_seconds=30)  # blocks until the first
        shown = None
        while progress is not None and progress != shown:
            shown = progress
            end = "\n" if progress["done"] == progress["total"] or not sys.stdout.isatty() else "\r"
            print(bar(progress["done"], progress["total"]), end=end, flush=True)
            while progress == shown and progress["done"] < progress["total"]:
                time.sleep(0.1)
                progress = client.get_event(handle.workflow_id, "progress", timeout_seconds=30)
        print(f"result: {handle.get_result(timeout_seconds=30)}")


if __name__ == "__main__":
    main()
