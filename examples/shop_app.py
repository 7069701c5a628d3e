"""A small DBOS application for the examples: a checkout workflow on the `orders` queue.

Run it as its own process (the examples start it for you; see _dbos_app.py):
    DBOS_SYSTEM_DATABASE_URL=sqlite:///shop.sqlite python examples/shop_app.py   (or a postgresql:// URL)
Nothing in here is imported by the client side: the client only knows workflow names.
"""

from _dbos_app import serve
from dbos import DBOS


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
    serve("shop", ["orders"])


if __name__ == "__main__":
    main()
