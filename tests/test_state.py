"""The state store against SQLite and PostgreSQL: what a restart must still know."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from automation.errors import StateError
from automation.state import (
    ItemUpdate,
    QueuedMail,
    StateStore,
    StatusChange,
    good_config,
)

OpenStore = Callable[[], StateStore]
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 10, 15, 10, 0, tzinfo=SHANGHAI)


def _update(
    item_id: str, status: str, since: datetime, *, changed: bool = True
) -> ItemUpdate:
    return ItemUpdate(
        table="requests",
        item_id=item_id,
        first_seen=datetime(2025, 10, 14, 9, 30, tzinfo=SHANGHAI),
        status=status,
        meaning="open",
        status_since=since,
        flag="at_risk",
        changed_status=changed,
    )


def _mail(key: str, subject: str = "逾期提醒") -> QueuedMail:
    return QueuedMail(
        key=key,
        kind="overdue",
        recipients=("zhang.san@example.com", "wang.fang@example.com"),
        subject=subject,
        message=f"Subject: {key}\r\n\r\nbody\r\n".encode(),
    )


def test_items_and_history_round_trip_keep_the_instant(
    open_state_store: OpenStore,
) -> None:
    store = open_state_store()
    first = datetime(2025, 10, 14, 11, 0, tzinfo=SHANGHAI)
    second = datetime(2025, 10, 15, 9, 15, tzinfo=SHANGHAI)

    assert store.save_items([_update("REQ-1", "新提报", first)], NOW) == 1
    assert store.save_items([_update("REQ-1", "处理中", second)], NOW) == 1
    assert (
        store.save_items([_update("REQ-1", "处理中", second, changed=False)], NOW) == 0
    )

    state = open_state_store().load_items()[("requests", "REQ-1")]
    assert state.first_seen == datetime(2025, 10, 14, 1, 30, tzinfo=UTC)
    assert state.first_seen.utcoffset() == timedelta(0)
    assert state.status == "处理中"
    assert state.status_since == second
    assert state.flag == "at_risk"
    assert state.history == (
        StatusChange("新提报", "open", first),
        StatusChange("处理中", "open", second),
    )


def test_a_status_change_without_since_is_dated_now(
    open_state_store: OpenStore,
) -> None:
    store = open_state_store()
    update = _update("REQ-2", "新提报", NOW)
    store.save_items([replace(update, status_since=None)], NOW)

    (change,) = store.load_items()[("requests", "REQ-2")].history
    assert change.at == NOW


def test_enqueue_is_idempotent_by_key_and_remembers_notices(
    open_state_store: OpenStore,
) -> None:
    store = open_state_store()

    assert store.enqueue([_mail("a"), _mail("b")], ["REQ-1:overdue"], NOW) == 2
    assert (
        store.enqueue([_mail("a", "changed"), _mail("a")], ["REQ-1:overdue"], NOW) == 0
    )

    pending = store.pending_mail()
    assert [m.key for m in pending] == ["a", "b"]
    assert pending[0].subject == "逾期提醒"
    assert pending[0].recipients == ("zhang.san@example.com", "wang.fang@example.com")
    assert pending[0].message == b"Subject: a\r\n\r\nbody\r\n"
    assert store.notice_keys() == {"REQ-1:overdue"}
    assert store.mail_counts() == {"pending": 2}


def test_a_failed_mail_stays_pending_until_sent(open_state_store: OpenStore) -> None:
    store = open_state_store()
    store.enqueue([_mail("a")], [], NOW)

    store.mark_failed("a", "ConnectionRefusedError: [Errno 111]", NOW)
    (pending,) = store.pending_mail()
    assert (pending.key, pending.attempts) == ("a", 1)

    later = NOW + timedelta(minutes=10)
    store.mark_sent("a", later)
    assert store.pending_mail() == []
    assert store.mail_counts() == {"sent": 1}
    (sent,) = store.sent_between(NOW, later)
    assert sent["key"] == "a"
    assert sent["sent_at"] == later
    assert store.sent_between(NOW, later - timedelta(seconds=1)) == []


def test_a_restart_neither_drops_nor_repeats_mail(open_state_store: OpenStore) -> None:
    before = open_state_store()
    before.enqueue([_mail("sent"), _mail("waiting")], ["n1", "n2"], NOW)
    before.mark_sent("sent", NOW)
    before.close()

    after = open_state_store()
    assert [m.key for m in after.pending_mail()] == ["waiting"]
    assert after.notice_keys() == {"n1", "n2"}
    assert after.enqueue([_mail("sent"), _mail("waiting")], ["n1"], NOW) == 0
    assert after.mail_counts() == {"pending": 1, "sent": 1}


def test_runs_start_finish_and_last_run(open_state_store: OpenStore) -> None:
    store = open_state_store()
    assert store.last_run() is None

    first = store.start_run(NOW)
    store.finish_run(first, "ok", {"rows_read": 12, "当": "中文"})
    second = store.start_run(NOW + timedelta(minutes=10))
    store.finish_run(second, "failed", {"detail": "boom"})
    unfinished = store.start_run(NOW + timedelta(minutes=20))

    assert len({first, second, unfinished}) == 3
    last = store.last_run()
    assert last is not None
    assert last["id"] == first
    assert last["now"] == NOW
    assert last["summary"] == {"rows_read": 12, "当": "中文"}
    assert last["finished_at"] is not None
    failed = store.last_run("failed")
    assert failed is not None
    assert failed["summary"] == {"detail": "boom"}


def test_good_config_round_trip_and_unchanged_payload_kept(
    open_state_store: OpenStore,
) -> None:
    store = open_state_store()
    assert store.load_good_config() is None
    payload = {"设置": [["键", "值"], ["language", "zh"]], "SLA": [["Rule"]]}

    store.save_good_config(payload, NOW)
    store.save_good_config(dict(reversed(payload.items())), NOW + timedelta(hours=1))
    assert open_state_store().load_good_config() == payload
    assert _good_config_saved_at(store) == [NOW]

    changed = {"设置": [["键", "值"], ["language", "en"]]}
    store.save_good_config(changed, NOW + timedelta(hours=2))
    assert store.load_good_config() == changed
    assert _good_config_saved_at(store) == [NOW + timedelta(hours=2)]


def _good_config_saved_at(store: StateStore) -> list[datetime]:
    with store.engine.connect() as conn:
        return list(conn.scalars(select(good_config.c.saved_at)))


def test_a_naive_datetime_is_refused(open_state_store: OpenStore) -> None:
    store = open_state_store()
    naive = datetime(2025, 10, 15, 10, 0)

    with pytest.raises(ValueError, match="needs a time zone"):
        store.start_run(naive)
    with pytest.raises(ValueError, match="first_seen needs a time zone"):
        store.save_items(
            [ItemUpdate("requests", "R", naive, None, None, None, None, False)], NOW
        )
    with pytest.raises(ValueError, match="needs a time zone"):
        store.enqueue([_mail("a")], [], naive)
    with pytest.raises(ValueError, match="needs a time zone"):
        store.save_good_config({}, naive)

    assert store.pending_mail() == []
    assert store.load_items() == {}


def test_an_unusable_database_raises_state_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/missing-folder/state.sqlite"

    with pytest.raises(StateError, match="cannot open the state database"):
        StateStore(url)


def test_a_database_failure_mid_run_raises_state_error(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.sqlite")
    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE mail"))

    with pytest.raises(StateError, match=r"state database .* failed: OperationalError"):
        store.pending_mail()
    with pytest.raises(StateError, match="the next cycle retries"):
        store.enqueue([_mail("a")], [], NOW)
    store.close()
