"""The Postgres databases of one upstream run (see swap_client.py), shared by the pytest
process's plugin and the helper scripts it starts (sitecustomize.py)."""

from __future__ import annotations

import os


def database_names(suffix: str) -> tuple[str, str]:
    """(user, system) database names: DBOS's conftest's ``dbostestpy``, made unique by ``suffix``."""
    return f"dbostestpy_{suffix}", f"dbostestpy_{suffix}_dbos_sys"


def unique_urls(suffix: str) -> tuple[str, str]:
    """What DBOS's conftest's ``postgres_urls`` returns, for this run's databases."""
    user, system = database_names(suffix)
    password = os.environ.get("PGPASSWORD", "dbos")
    return (
        f"postgresql://postgres:{password}@localhost:5432/{user}",
        f"postgresql+psycopg://postgres:{password}@localhost:5432/{system}",
    )
