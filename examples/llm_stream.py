"""Streams: a workflow writes an answer's tokens to a stream; the client prints them as they come.

    python examples/llm_stream.py [--postgres]
read_stream yields every value in order, live, and ends when the workflow closes the stream.
"""

from _launcher import running_scenarios

from dbos_client import DBOSClient


def main() -> None:
    with running_scenarios() as url, DBOSClient(system_database_url=url) as client:
        handle = client.enqueue({"queue_name": "scenarios", "workflow_name": "generate"}, "Why durable workflows?", 0.03)
        print("answer: ", end="", flush=True)
        for token in client.read_stream(handle.workflow_id, "tokens"):
            print(token, end="", flush=True)
        print()
        print(f"result: {handle.get_result(timeout_seconds=30)}")


if __name__ == "__main__":
    main()
