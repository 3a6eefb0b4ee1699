"""What the service remembers between cycles, in a database through SQLAlchemy.

A SQLite file by default; PostgreSQL when several replicas run. It keeps each item's
first sighting and status history (for pauses and first responses), which notices went
out per item and level, the mail queue (a message waits here until its transport took
it, so a restart neither loses nor repeats one), the runs, and the last configuration
that was good.

Every method is one transaction; a database failure is raised as `StateError`, and a
naive datetime as `ValueError` before anything is written. Known limits: two replicas
queueing the same mail key at the same instant make one of them fail with a
`StateError` (the key is a primary key); its next cycle finds the mail queued. The
runs table records the wall-clock start and end of each run, read from the system
clock, next to the cycle's own `now`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Dialect,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    create_engine,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import TypeDecorator

from automation.errors import StateError

log = logging.getLogger(__name__)


class UtcDateTime(TypeDecorator[datetime]):
    """Stored as UTC, handed back aware: SQLite would drop the zone otherwise."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        if value is None:
            return None
        return _aware(value, "a time stored in the state database").astimezone(UTC)

    def process_result_value(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        if value is None:
            return None
        return (
            value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        )


metadata = MetaData()

items = Table(
    "items",
    metadata,
    Column("table_key", String(32), primary_key=True),
    Column("item_id", String(128), primary_key=True),
    Column("first_seen", UtcDateTime(), nullable=False),
    Column("status", String(64)),
    Column("meaning", String(32)),
    Column("status_since", UtcDateTime()),
    Column("flag", String(32)),
)

status_changes = Table(
    "status_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("table_key", String(32), nullable=False, index=True),
    Column("item_id", String(128), nullable=False, index=True),
    Column("status", String(64)),
    Column("meaning", String(32)),
    Column("at", UtcDateTime(), nullable=False),
)

notices = Table(
    "notices",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("at", UtcDateTime(), nullable=False),
)

mail = Table(
    "mail",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("recipients", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("message", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("sent_at", UtcDateTime()),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("now", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime()),
    Column("outcome", String(16)),
    Column("summary", Text),
)

good_config = Table(
    "good_config",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("saved_at", UtcDateTime(), nullable=False),
    Column("payload", Text, nullable=False),
)


@dataclass(frozen=True)
class StatusChange:
    status: str | None
    meaning: str | None
    at: datetime


@dataclass(frozen=True)
class ItemState:
    """What the service knew of one item after the last cycle."""

    first_seen: datetime
    status: str | None
    meaning: str | None
    status_since: datetime | None
    flag: str | None
    history: tuple[StatusChange, ...] = ()


@dataclass(frozen=True)
class ItemUpdate:
    """The item's state after this cycle, and its status change if there was one."""

    table: str
    item_id: str
    first_seen: datetime
    status: str | None
    meaning: str | None
    status_since: datetime | None
    flag: str | None
    changed_status: bool


@dataclass(frozen=True)
class QueuedMail:
    key: str
    kind: str
    recipients: tuple[str, ...]
    subject: str
    message: bytes
    attempts: int = 0


def _aware(value: datetime, what: str) -> datetime:
    """`value` itself; a naive datetime is refused because its instant is unknown."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{what} needs a time zone, e.g. 2025-10-15T10:00+08:00; got {value}"
        )
    return value


def database_url(value: str | Path) -> str:
    """A SQLAlchemy URL from a URL or a plain file path (SQLite)."""
    text = str(value)
    return text if "://" in text else f"sqlite:///{text}"


class StateStore:
    """The service's memory; every method is one transaction."""

    def __init__(self, url: str | Path) -> None:
        self.url = database_url(url)
        try:
            self.engine: Engine = create_engine(self.url, future=True)
            metadata.create_all(self.engine)
        except SQLAlchemyError as error:
            raise StateError(
                f"cannot open the state database {self.url_without_password()}: "
                f"{error.__class__.__name__}; check the path or the database server"
            ) from error

    def url_without_password(self) -> str:
        """The URL for messages and logs."""
        return make_url(self.url).render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        """A connection in a transaction that commits on success."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as error:
            raise self._failed(error) from error

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        """A connection for reading."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except SQLAlchemyError as error:
            raise self._failed(error) from error

    def _failed(self, error: SQLAlchemyError) -> StateError:
        # The class name only: SQLAlchemy's text can carry the statement's values.
        return StateError(
            f"the state database {self.url_without_password()} failed: "
            f"{error.__class__.__name__}; check that it is reachable and writable, "
            "the next cycle retries"
        )

    # Items

    def load_items(self) -> dict[tuple[str, str], ItemState]:
        history: dict[tuple[str, str], list[StatusChange]] = {}
        with self._connect() as conn:
            for row in conn.execute(
                select(status_changes).order_by(
                    status_changes.c.at, status_changes.c.id
                )
            ):
                history.setdefault((row.table_key, row.item_id), []).append(
                    StatusChange(row.status, row.meaning, row.at)
                )
            result = {}
            for row in conn.execute(select(items)):
                key = (row.table_key, row.item_id)
                result[key] = ItemState(
                    first_seen=row.first_seen,
                    status=row.status,
                    meaning=row.meaning,
                    status_since=row.status_since,
                    flag=row.flag,
                    history=tuple(history.get(key, ())),
                )
        return result

    def save_items(self, updates: Iterable[ItemUpdate], now: datetime) -> int:
        """Upsert the items' state and append their status changes; returns changes."""
        _aware(now, "now")
        updates = list(updates)
        for item in updates:
            _aware(item.first_seen, "first_seen")
            if item.status_since is not None:
                _aware(item.status_since, "status_since")
        changes = [item for item in updates if item.changed_status]
        with self._begin() as conn:
            known = {
                (row.table_key, row.item_id)
                for row in conn.execute(select(items.c.table_key, items.c.item_id))
            }
            new, old = [], []
            for item in updates:
                values = {
                    "first_seen": item.first_seen,
                    "status": item.status,
                    "meaning": item.meaning,
                    "status_since": item.status_since,
                    "flag": item.flag,
                }
                if (item.table, item.item_id) in known:
                    old.append({"t": item.table, "i": item.item_id, **values})
                else:
                    new.append(
                        {"table_key": item.table, "item_id": item.item_id, **values}
                    )
            # One statement run over many rows: a first cycle stores 100,000 items.
            if new:
                conn.execute(insert(items), new)
            if old:
                conn.execute(
                    update(items)
                    .where(items.c.table_key == bindparam("t"))
                    .where(items.c.item_id == bindparam("i")),
                    old,
                )
            if changes:
                conn.execute(
                    insert(status_changes),
                    [
                        {
                            "table_key": item.table,
                            "item_id": item.item_id,
                            "status": item.status,
                            "meaning": item.meaning,
                            "at": item.status_since or now,
                        }
                        for item in changes
                    ],
                )
        return len(changes)

    # Notices: what was said about which item, once each

    def notice_keys(self) -> set[str]:
        with self._connect() as conn:
            return set(conn.scalars(select(notices.c.key)))

    # Mail queue

    def enqueue(
        self, queued: Iterable[QueuedMail], notice_keys: Iterable[str], now: datetime
    ) -> int:
        """Queue new mail and remember its notices, in one transaction.

        A mail whose key is already queued or sent is left as it is, so composing the
        same digest twice never sends it twice. Returns how many were new.
        """
        _aware(now, "now")
        queued = list(queued)
        wanted = set(notice_keys)
        with self._begin() as conn:
            # Only the keys at hand are looked up: the tables grow with every day.
            present = set(
                conn.scalars(
                    select(mail.c.key).where(mail.c.key.in_([m.key for m in queued]))
                )
            )
            rows = []
            for item in queued:
                if item.key in present:
                    continue
                present.add(item.key)
                rows.append(
                    {
                        "key": item.key,
                        "kind": item.kind,
                        "recipients": json.dumps(list(item.recipients)),
                        "subject": item.subject,
                        "message": item.message,
                        "created_at": now,
                        "state": "pending",
                        "attempts": 0,
                    }
                )
            if rows:
                conn.execute(insert(mail), rows)
            seen = set(
                conn.scalars(select(notices.c.key).where(notices.c.key.in_(wanted)))
            )
            if wanted - seen:
                conn.execute(
                    insert(notices), [{"key": key, "at": now} for key in wanted - seen]
                )
        return len(rows)

    def pending_mail(self) -> list[QueuedMail]:
        with self._connect() as conn:
            rows = conn.execute(
                select(mail)
                .where(mail.c.state == "pending")
                .order_by(mail.c.created_at, mail.c.key)
            )
            return [
                QueuedMail(
                    key=row.key,
                    kind=row.kind,
                    recipients=tuple(json.loads(row.recipients)),
                    subject=row.subject,
                    message=row.message,
                    attempts=row.attempts,
                )
                for row in rows
            ]

    def mark_sent(self, key: str, now: datetime) -> None:
        _aware(now, "now")
        with self._begin() as conn:
            conn.execute(
                update(mail)
                .where(mail.c.key == key)
                .values(state="sent", sent_at=now, attempts=mail.c.attempts + 1)
            )

    def mark_failed(self, key: str, error: str, now: datetime) -> None:
        """Keep the mail pending for the next cycle and remember why it failed."""
        _aware(now, "now")
        with self._begin() as conn:
            conn.execute(
                update(mail)
                .where(mail.c.key == key)
                .values(last_error=error[:500], attempts=mail.c.attempts + 1)
            )

    def sent_between(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        _aware(start, "start")
        _aware(end, "end")
        with self._connect() as conn:
            rows = conn.execute(
                select(
                    mail.c.key,
                    mail.c.kind,
                    mail.c.recipients,
                    mail.c.subject,
                    mail.c.sent_at,
                )
                .where(mail.c.state == "sent")
                .where(mail.c.sent_at >= start)
                .where(mail.c.sent_at <= end)
                .order_by(mail.c.sent_at, mail.c.key)
            )
            return [dict(row._mapping) for row in rows]

    def mail_counts(self) -> dict[str, int]:
        with self._connect() as conn:
            rows = conn.execute(
                select(mail.c.state, func.count()).group_by(mail.c.state)
            )
            return {state: count for state, count in rows}

    # Runs

    def start_run(self, now: datetime) -> int:
        _aware(now, "now")
        with self._begin() as conn:
            result = conn.execute(
                insert(runs).values(started_at=datetime.now(UTC), now=now)
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def finish_run(self, run: int, outcome: str, summary: Mapping[str, object]) -> None:
        with self._begin() as conn:
            conn.execute(
                update(runs)
                .where(runs.c.id == run)
                .values(
                    finished_at=datetime.now(UTC),
                    outcome=outcome,
                    summary=json.dumps(summary, ensure_ascii=False, default=str),
                )
            )

    def last_run(self, outcome: str = "ok") -> dict[str, Any] | None:
        with self._connect() as conn:
            row = conn.execute(
                select(runs)
                .where(runs.c.outcome == outcome)
                .order_by(runs.c.id.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        found = dict(row._mapping)
        found["summary"] = json.loads(found["summary"] or "{}")
        return found

    # The last good configuration

    def save_good_config(self, payload: Mapping[str, object], now: datetime) -> None:
        _aware(now, "now")
        text = json.dumps(payload, ensure_ascii=False, default=str, sort_keys=True)
        with self._begin() as conn:
            current = conn.scalar(
                select(good_config.c.payload).where(good_config.c.id == 1)
            )
            if current == text:
                return
            conn.execute(delete(good_config))
            conn.execute(insert(good_config).values(id=1, saved_at=now, payload=text))

    def load_good_config(self) -> dict[str, Any] | None:
        with self._connect() as conn:
            text = conn.scalar(
                select(good_config.c.payload).where(good_config.c.id == 1)
            )
        return json.loads(text) if text else None
