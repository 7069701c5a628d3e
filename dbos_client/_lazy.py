"""A module loaded on its first attribute access, for the shells' rarely used calls.

``from dbos_client import DBOSClient`` should not pay for the operator's, the schedules' and
the outbox's modules (about 50 ms of imports) in a script that only sends a message. Type
checkers see these names bound to the real modules (under ``TYPE_CHECKING``), so types are checked
as usual; at run time the first call imports the module, and later calls cost one
attribute lookup.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

__all__ = ["LazyModule", "calls_operator", "outbox", "schedules"]


class LazyModule:
    __slots__ = ("_name", "_module")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


if TYPE_CHECKING:
    from . import _calls_operator as calls_operator
    from . import _outbox as outbox
    from . import _schedules as schedules
else:
    calls_operator = LazyModule("dbos_client._calls_operator")
    outbox = LazyModule("dbos_client._outbox")
    schedules = LazyModule("dbos_client._schedules")
