"""Messages: a checkout waits for the payment provider's webhook, which the client forwards.

    python examples/payment_webhook.py [--postgres]
The checkout workflow publishes its payment id (an event), then waits on recv(topic="payment")
with a timeout. `on_payment_webhook` is what a web handler would call when the provider posts
the payment status: it forwards it with send(), keyed by the provider's event id, so a webhook
delivered twice reaches the workflow once. Two orders: one is paid, the other never is.
"""

from _launcher import running_scenarios

from dbos_client import DBOSClient


def on_payment_webhook(client: DBOSClient, workflow_id: str, event: dict) -> None:
    """The webhook handler: never blocks, exactly once per provider event id."""
    client.send(workflow_id, {"status": event["status"]}, topic="payment", idempotency_key=event["id"])


def main() -> None:
    with running_scenarios() as url, DBOSClient(system_database_url=url) as client:
        paid = client.enqueue({"queue_name": "scenarios", "workflow_name": "checkout"}, "A-17", 42.5, 30)
        unpaid = client.enqueue({"queue_name": "scenarios", "workflow_name": "checkout"}, "B-3", 9.9, 2)

        payment_id = client.get_event(paid.workflow_id, "payment_id", timeout_seconds=30)
        print(f"order A-17 awaits payment {payment_id}")
        webhook = {"id": f"evt-{payment_id}", "payment_id": payment_id, "status": "paid"}
        on_payment_webhook(client, paid.workflow_id, webhook)
        on_payment_webhook(client, paid.workflow_id, webhook)  # the provider retried: delivered once
        print(f"paid path: {paid.get_result(timeout_seconds=30)}")

        print(f"order B-3 awaits payment {client.get_event(unpaid.workflow_id, 'payment_id', timeout_seconds=30)}")
        print(f"timed-out path: {unpaid.get_result(timeout_seconds=30)}")
        print(f"order statuses: A-17 {client.get_event(paid.workflow_id, 'order_status', 5)!r}, "
              f"B-3 {client.get_event(unpaid.workflow_id, 'order_status', 5)!r}")  # fmt: skip


if __name__ == "__main__":
    main()
