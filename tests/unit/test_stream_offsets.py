"""Stream offsets are bounded where they enter (issue 16): the streams table's offsets are 32-bit,
and one waiter's offset beyond them must never reach a statement, least of all the shared poller's."""

from __future__ import annotations

import pytest

from dbos_client import InvalidArgumentError
from dbos_client._calls import ClientCore, read_stream
from dbos_client._hub_state import MAX_STREAM_OFFSET
from dbos_client._serialization import Codec

CORE = ClientCore(codec=Codec(), schema_name="dbos", database="db", application_name=None)


@pytest.mark.parametrize("offset", [-1, MAX_STREAM_OFFSET + 1, 2**63, 10**30, True, 1.0, "0"])
def test_offsets_out_of_range_are_refused_before_any_io(offset: object) -> None:
    with pytest.raises(InvalidArgumentError, match="offset must be an integer from 0 to 2147483647"):
        read_stream(CORE, "w", "k", offset, 1.0, None)


@pytest.mark.parametrize("offset", [0, 1, MAX_STREAM_OFFSET])
def test_offsets_in_range_make_an_op(offset: int) -> None:
    op = read_stream(CORE, "w", "k", offset, 1.0, None)
    op.close()


@pytest.mark.parametrize("where", ["workflow_id", "key"])
def test_a_lone_surrogate_never_reaches_a_statement(where: str) -> None:
    args = {"workflow_id": "w", "key": "k", where: "a\ud800b"}
    with pytest.raises(InvalidArgumentError, match=f"{where} is not valid Unicode"):
        read_stream(CORE, args["workflow_id"], args["key"], 0, 1.0, None)


@pytest.mark.parametrize("offset", [-1, 2**31, 2**40])
def test_read_stream_offset_is_bounded_like_read_stream(offset: int) -> None:
    from dbos_client import DBOSClient, InvalidArgumentError

    client = DBOSClient(lazy=True, system_database_url="postgresql://u@h/d")
    with pytest.raises(InvalidArgumentError, match="offset must be an integer from 0 to 2147483647"):
        client.read_stream_offset("wf", "k", offset)
