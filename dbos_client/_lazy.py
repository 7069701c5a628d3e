"""A module loaded on its first attribute access, for the shells' rarely used calls.

``from dbos_client import DBOSClient`` should not pay for the operator's, the schedules' and
the outbox's modules (about 50 ms of imports) in a script that only sends a message. The
shells bind these names under ``TYPE_CHECKING`` to the real modules, so types are checked
as usual; at run time the first call imports the module, and later calls cost one
attribute lookup.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


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
