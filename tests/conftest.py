"""Shared fixtures. Each fixture's name says what it is for; add yours below."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from automation.state import StateStore

# Override to point the PostgreSQL tests at another server (trust auth assumed).
POSTGRES_URL = os.environ.get(
    "AUTOMATION_TEST_POSTGRES_URL",
    "postgresql+psycopg://postgres@127.0.0.1:5432/test",
)


def _postgres_schema_url() -> Iterator[str]:
    """A URL whose search path is a fresh schema, dropped again afterwards."""
    admin = sa.create_engine(
        make_url(POSTGRES_URL).update_query_dict({"connect_timeout": "3"})
    )
    try:
        with admin.connect():
            pass
    except sa.exc.OperationalError as error:
        admin.dispose()
        reason = (
            f"PostgreSQL is not reachable at {POSTGRES_URL} "
            f"({error.__class__.__name__}); start it or set "
            "AUTOMATION_TEST_POSTGRES_URL"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI=true: the PostgreSQL tests must run)")
        pytest.skip(reason)

    schema = f"t_{secrets.token_hex(6)}"
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        url = make_url(POSTGRES_URL).update_query_dict(
            {"options": f"-csearch_path={schema}"}
        )
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def state_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty state database: a SQLite file, then a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.sqlite'}"
    else:
        yield from _postgres_schema_url()


@pytest.fixture
def open_state_store(state_db_url: str) -> Iterator[Callable[[], StateStore]]:
    """Opens a `StateStore` on `state_db_url`; call twice to mimic a restart."""
    opened: list[StateStore] = []

    def open_store() -> StateStore:
        store = StateStore(state_db_url)
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        store.close()
