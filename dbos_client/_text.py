"""Small text helpers shared by the client, its shells and its tools. Pure, standard library only."""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type name when it has none: for one-line logs and errors."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
