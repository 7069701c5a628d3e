"""A small DBOS application for the examples: a checkout workflow on the `orders` queue.

Run it as its own process (the examples start it for you):
    DBOS_SYSTEM_DATABASE_URL=sqlite:///shop.sqlite python examples/shop_app.py   (or a postgresql:// URL)
It prints READY once it is polling its queue, and stops when stdin closes or on SIGTERM.
Nothing in here is imported by the client side: the client only knows workflow names.
"""

import os
import signal
import sys
import threading

from dbos import DBOS, DBOSConfig


@DBOS.workflow()
def checkout(order_id, amount):
    """Publish a payment id, log progress to a stream, wait for the payment webhook."""
    DBOS.write_stream("log", f"order {order_id}: reserving stock")
    DBOS.set_event("payment_id", f"pay-{order_id}")
    DBOS.write_stream("log", f"order {order_id}: waiting for payment of {amount}")
    payment = DBOS.recv("payment", timeout_seconds=60)
    if payment is None or payment.get("status") != "paid":
        DBOS.write_stream("log", f"order {order_id}: payment failed")
        DBOS.close_stream("log")
        raise RuntimeError(f"order {order_id} was not paid")
    DBOS.set_event("status", "paid")
    DBOS.write_stream("log", f"order {order_id}: shipped")
    DBOS.close_stream("log")
    return {"order_id": order_id, "amount": amount, "status": "shipped"}


@DBOS.workflow()
def slow_report(seconds):
    """Something long-running, to cancel."""
    DBOS.sleep(seconds)
    return "report done"


def main():
    DBOS(config=DBOSConfig(
        name="shop",
        system_database_url=os.environ["DBOS_SYSTEM_DATABASE_URL"],
        # On SQLite (no NOTIFY) the app's own recv polls; the default is once a second.
        notification_listener_polling_interval_sec=0.1,
    ))  # fmt: skip
    DBOS.launch()
    DBOS.register_queue("orders", polling_interval_sec=0.1)  # 3.x keeps queues in the database
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    # The queue thread notices a new queue row within about a second.
    deadline = 50
    while deadline and not any(t.name == "queue-worker-orders" for t in threading.enumerate()):
        stop.wait(0.1)
        deadline -= 1
    print("READY", flush=True)
    stop.wait()
    DBOS.destroy()


if __name__ == "__main__":
    main()
