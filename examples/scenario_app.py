"""The DBOS application behind the scenario examples and the gateway demo (queue `scenarios`).

Each workflow talks to the outside through one or more of the three mechanisms:
  process_items  events    publishes `progress` as it works through its items
  checkout       messages  publishes `payment_id`, then waits for the payment webhook's message
  generate       streams   writes an answer's tokens to the `tokens` stream, then closes it
  etl_job        all three `records_processed` event, warnings and errors on `log`, honours `cancel`
  assistant      all three the live page: tokens, `progress`, then waits for an `approval` message

Run by the examples (see _dbos_app.py); nothing here is imported by the client side.
"""

from _dbos_app import serve
from dbos import DBOS

QUEUE = "scenarios"
ANSWER = (
    "Durable workflows keep their state in the database, so a crash only pauses them: "
    "they resume from the last completed step."
)


def tokens_of(text):
    """A stand-in for an LLM: the answer, word by word."""
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]


@DBOS.step()
def process(item):
    return item * item


@DBOS.workflow()
def process_items(n, delay):
    total = 0
    for i in range(1, n + 1):
        total += process(i)
        DBOS.set_event("progress", {"done": i, "total": n})
        DBOS.sleep(delay)
    return {"items": n, "sum_of_squares": total}


@DBOS.workflow()
def checkout(order_id, amount, payment_timeout):
    DBOS.set_event("payment_id", f"pay-{order_id}")
    payment = DBOS.recv("payment", timeout_seconds=payment_timeout)
    if payment is None:
        DBOS.set_event("order_status", "cancelled")
        return {"order_id": order_id, "status": "cancelled", "reason": "no payment in time"}
    DBOS.set_event("order_status", payment["status"])
    return {"order_id": order_id, "status": payment["status"], "amount": amount}


@DBOS.workflow()
def generate(prompt, delay):
    for token in tokens_of(ANSWER):
        DBOS.write_stream("tokens", token)
        DBOS.sleep(delay)
    DBOS.close_stream("tokens")
    return {"prompt": prompt, "tokens": len(tokens_of(ANSWER))}


@DBOS.step()
def load_batch(batch, size):
    """Extract, transform and load one batch; returns what went wrong, if anything."""
    problems = []
    if batch % 3 == 1:
        problems.append(("warning", f"batch {batch}: 2 rows without an email address, loaded anyway"))
    if batch == 4:
        problems.append(("error", f"batch {batch}: row {batch * size + 17} rejected (date 2026-02-30)"))
    return problems


@DBOS.workflow()
def etl_job(batches, batch_size, delay):
    processed = 0
    for batch in range(batches):
        # A cancel message is checked between batches: the job stops cleanly, its log closed.
        cancel = DBOS.recv("cancel", timeout_seconds=0)
        if cancel is not None:
            DBOS.write_stream("log", {"level": "warning", "text": f"cancel requested ({cancel.get('reason')}); stopping"})
            DBOS.close_stream("log")
            DBOS.set_event("state", "cancelled")
            return {"processed": processed, "cancelled": True}
        for level, text in load_batch(batch, batch_size):
            DBOS.write_stream("log", {"level": level, "text": text})
        processed += batch_size
        DBOS.set_event("records_processed", processed)
        DBOS.sleep(delay)
    DBOS.close_stream("log")
    DBOS.set_event("state", "done")
    return {"processed": processed, "cancelled": False}


@DBOS.workflow()
def assistant(prompt, delay):
    tokens = tokens_of(ANSWER)
    DBOS.set_event("status", "writing")
    for i, token in enumerate(tokens, 1):
        DBOS.write_stream("tokens", token)
        DBOS.set_event("progress", round(100 * i / len(tokens)))
        DBOS.sleep(delay)
    DBOS.close_stream("tokens")
    DBOS.set_event("status", "awaiting approval")
    decision = DBOS.recv("approval", timeout_seconds=600)
    approved = bool(decision and decision.get("approved"))
    DBOS.set_event("status", "approved" if approved else "rejected")
    return {"prompt": prompt, "approved": approved, "by": (decision or {}).get("by")}


if __name__ == "__main__":
    serve("scenarios", [QUEUE])
