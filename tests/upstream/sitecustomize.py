"""For DBOS's test helper scripts that ``tests/upstream/run.py``'s pytest process starts (today
``tests/client_worker.py``, run by ``test_client_send_idempotent``): the two things the
harness already gives that pytest process, given to them too. Inert everywhere else.

Python imports ``sitecustomize`` at start-up from the path, and run.py puts this directory on
the pytest process's ``PYTHONPATH``, which its subprocesses inherit. The swap_client plugin sets
``DBOS_CLIENT_UPSTREAM_CHILD`` only once pytest runs, so only those subprocesses see it:

* DBOS's ``tests`` package becomes importable (``from tests import client_collateral``), as
  in DBOS's own development install, whose editable ``.pth`` puts the source root on the
  path: the root is appended after site-packages, so the installed ``dbos`` stays the one
  imported;
* ``tests.conftest.postgres_urls`` names the run's own databases, exactly as the plugin
  does in the pytest process, so the helper talks to the database the test reads.

Nothing else: not the client, not an assertion.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

_CHILD = os.environ.get("DBOS_CLIENT_UPSTREAM_CHILD")


def _install(root: str, suffix: str) -> None:
    import importlib.abc
    import importlib.machinery

    from upstream_databases import unique_urls

    if root not in sys.path:
        sys.path.append(root)

    class _RenameDatabases(importlib.abc.MetaPathFinder):
        """Patches ``tests.conftest`` right after it is executed, on its first import."""

        def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
            if name != "tests.conftest":
                return None
            sys.meta_path.remove(self)
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            loader = getattr(spec, "loader", None)
            if loader is None or not hasattr(loader, "exec_module"):
                return spec
            execute = loader.exec_module

            def exec_module(module: Any) -> None:
                execute(module)
                module.postgres_urls = lambda: unique_urls(suffix)

            loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, _RenameDatabases())


if _CHILD:
    _settings = json.loads(_CHILD)
    _install(_settings["root"], _settings["suffix"])
