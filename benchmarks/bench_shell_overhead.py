"""The CPU a DBOSClient method costs before any I/O: the shell, the argument checks, the op.

``client._run`` is replaced by closing the op, so nothing reaches a database and what is
timed is what the client adds to every call (best of 5 runs of 200,000 calls). Run it
against two checkouts to compare them: ``PYTHONPATH=<checkout> python bench_shell_overhead.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from dbos_client import DBOSClient


def best_microseconds(fn: Callable[[], object], n: int = 200_000) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - start) / n)
    return best * 1e6


def main() -> None:
    try:
        client = DBOSClient(system_database_url="postgresql://u@127.0.0.1:1/db", lazy=True)
    except TypeError:  # a checkout from before lazy=False became the default connected lazily anyway
        client = DBOSClient(system_database_url="postgresql://u@127.0.0.1:1/db")
    client._run = lambda op: op.close()  # type: ignore[method-assign,assignment,return-value]
    print(f"send            {best_microseconds(lambda: client.send('wf-1', 'hello', 'topic')):.2f} us")
    print(f"get_all_events  {best_microseconds(lambda: client.get_all_events('wf-1')):.2f} us")
    print(f"cancel_workflow {best_microseconds(lambda: client.cancel_workflow('wf-1')):.2f} us")


if __name__ == "__main__":
    main()
