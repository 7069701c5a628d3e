"""SQLite URLs name the file SQLAlchemy (and so DBOS) opens: compared with sqlalchemy.make_url itself.

No database needed; SQLAlchemy is a dependency of the dbos runtime, never of dbos_client.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from dbos_client._config import resolve

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "unit"))

from test_config import SQLITE_ENCODED

pytestmark = pytest.mark.interop


@pytest.mark.parametrize("url", [url for url, _ in SQLITE_ENCODED] + ["sqlite:///dbos.sqlite", "sqlite:////tmp/x.db"])
def test_same_sqlite_file_as_sqlalchemy(url: str) -> None:
    assert resolve(url).sqlite_path == sa.make_url(url).database


def test_a_rendered_sqlalchemy_url_round_trips() -> None:
    # What DBOS's own tests do: set a database name with '@' in it and render the URL.
    url = sa.make_url("sqlite:///x.sqlite").set(database="F8nny_dAtaB@s3@-n@m3.sqlite").render_as_string(hide_password=False)
    assert resolve(url).sqlite_path == "F8nny_dAtaB@s3@-n@m3.sqlite"
