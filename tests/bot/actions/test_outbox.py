"""The outbox of writes to the record service, on SQLite, against the real record service."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.actions.outbox import (
    Backlog,
    QueuedWriteRow,
    WriteOutbox,
    describe_backlog,
    retry_delay,
)
from bot.actions.records_client import RecordsClient, ServiceRecord
from service_common.db import make_engine
from tests.fixtures.actions import new_conversation_id, stored_records


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(timezone.utc))


@pytest.fixture
def outbox(tmp_path: Path, clock: Clock) -> Iterator[WriteOutbox]:
    box = WriteOutbox(make_engine(f"sqlite:///{tmp_path / 'outbox.db'}"), clock=clock)
    yield box
    box.close()


def record_body(conversation: str, outcome: str = "verified") -> dict[str, object]:
    return ServiceRecord(
        conversation_id=conversation,
        kind="identity_check",
        outcome=outcome,
        order_id="8800001001",
        rule="IDENTITY-CHECK",
        details={"method": "phone_last4", "channel": "rest"},
    ).to_json()


def rows(outbox: WriteOutbox) -> list[tuple[str, str, int]]:
    """Each queued write: the end of its key (keys are `<conversation>:<n>`), status, attempts."""
    with Session(outbox._engine) as session:
        return [
            (row.idempotency_key.rsplit(":", 1)[1], row.status, row.attempts)
            for row in session.execute(select(QueuedWriteRow).order_by(QueuedWriteRow.id)).scalars()
        ]


def test_a_queued_write_is_delivered_at_once_when_the_service_answers(
    outbox: WriteOutbox, records_client: RecordsClient
) -> None:
    conversation = new_conversation_id()
    outbox.queue("record", record_body(conversation), f"{conversation}:1", conversation)

    assert outbox.deliver_conversation(conversation, records_client) == 0

    assert [r["outcome"] for r in stored_records(records_client, conversation)] == ["verified"]
    assert outbox.backlog() == Backlog(pending=0, rejected=0, oldest_pending_s=None)


def test_the_same_key_queued_again_gives_back_the_first_write(outbox: WriteOutbox) -> None:
    conversation = new_conversation_id()
    first = outbox.queue("record", record_body(conversation, "verified"), f"{conversation}:1", conversation)

    again = outbox.queue("record", record_body(conversation, "failed"), f"{conversation}:1", conversation)

    assert again == first
    assert again.body["outcome"] == "verified"
    assert len(rows(outbox)) == 1


def test_while_the_service_is_down_writes_wait_in_order_and_go_once_it_is_back(
    outbox: WriteOutbox, clock: Clock, down_records_client: RecordsClient, records_client: RecordsClient
) -> None:
    conversation = new_conversation_id()
    outbox.queue("record", record_body(conversation, "failed"), f"{conversation}:1", conversation)
    outbox.queue("record", record_body(conversation, "verified"), f"{conversation}:2", conversation)

    assert outbox.deliver_conversation(conversation, down_records_client) == 2
    # The second waits behind the first: not even tried.
    assert rows(outbox) == [("1", "pending", 1), ("2", "pending", 0)]
    # The first is paused, and the second is not sent ahead of it.
    assert outbox.deliver_due(records_client).pending == 2
    assert stored_records(records_client, conversation) == []

    clock.now += retry_delay(1)
    backlog = outbox.deliver_due(records_client)

    assert backlog.pending == 0
    assert [r["outcome"] for r in stored_records(records_client, conversation)] == ["failed", "verified"]


def test_a_write_the_service_refuses_is_set_aside_and_counted(
    outbox: WriteOutbox, records_client: RecordsClient
) -> None:
    conversation = new_conversation_id()
    refused = {**record_body(conversation), "kind": "Not A Kind"}
    outbox.queue("record", refused, f"{conversation}:1", conversation)
    outbox.queue("record", record_body(conversation), f"{conversation}:2", conversation)

    assert outbox.deliver_conversation(conversation, records_client) == 0

    assert rows(outbox) == [("1", "rejected", 1), ("2", "delivered", 1)]
    assert outbox.backlog() == Backlog(pending=0, rejected=1, oldest_pending_s=None)
    assert [r["outcome"] for r in stored_records(records_client, conversation)] == ["verified"]


def test_the_backlog_says_how_long_the_oldest_write_has_waited(
    outbox: WriteOutbox, clock: Clock, down_records_client: RecordsClient
) -> None:
    conversation = new_conversation_id()
    outbox.queue("record", record_body(conversation), f"{conversation}:1", conversation)
    clock.now += timedelta(seconds=42)

    backlog = outbox.deliver_due(down_records_client)

    assert backlog == Backlog(pending=1, rejected=0, oldest_pending_s=42.0)
    assert backlog.to_json() == {"status": "backlog", "pending": 1, "rejected": 0, "oldest_pending_s": 42.0}


def test_delivered_writes_are_forgotten_after_a_day(
    outbox: WriteOutbox, clock: Clock, records_client: RecordsClient
) -> None:
    conversation = new_conversation_id()
    outbox.queue("record", record_body(conversation), f"{conversation}:1", conversation)
    outbox.deliver_conversation(conversation, records_client)
    outbox.deliver_due(records_client)
    assert outbox.written(f"{conversation}:1") is not None

    clock.now += timedelta(days=1, seconds=1)
    outbox.deliver_due(records_client)

    assert outbox.written(f"{conversation}:1") is None


def test_a_ticket_queued_while_the_service_was_down_keeps_its_number_and_time(
    outbox: WriteOutbox, clock: Clock, down_records_client: RecordsClient, records_client: RecordsClient
) -> None:
    from bot.actions.records_client import NewComplaint

    conversation = new_conversation_id()
    opened = clock.now
    complaint = NewComplaint(
        conversation_id=conversation,
        channel="web",
        order_id=None,
        category="service_attitude",
        description="快递员态度太差了",
        contact_phone="13912345678",
        due_at=opened + timedelta(hours=24),
        rule="COMPLAINT-24H",
        ticket_id="TS26120312345678",
        occurred_at=opened,
    )
    outbox.queue("complaint", complaint.to_json(), f"{conversation}:1", conversation)
    outbox.deliver_conversation(conversation, down_records_client)

    clock.now += timedelta(seconds=1)
    assert outbox.deliver_due(records_client).pending == 0

    [record] = records_client.records_for(conversation)
    assert record["details"]["ticket_id"] == "TS26120312345678"
    assert datetime.fromisoformat(record["created_at"]) == opened


@pytest.mark.parametrize(("attempts", "seconds"), [(0, 1), (1, 1), (2, 2), (3, 4), (4, 8), (5, 15), (30, 15)])
def test_pauses_double_up_to_fifteen_seconds(attempts: int, seconds: int) -> None:
    assert retry_delay(attempts) == timedelta(seconds=seconds)


WAITING = Backlog(pending=2, rejected=0, oldest_pending_s=12.0)
EMPTY = Backlog(pending=0, rejected=0, oldest_pending_s=None)


@pytest.mark.parametrize(
    ("previous", "current", "line"),
    [
        (None, EMPTY, None),
        (EMPTY, EMPTY, None),
        (
            EMPTY,
            WAITING,
            "record outbox: 2 write(s) wait for the record service, the oldest for 12 s; "
            "0 refused by it (see the error log)",
        ),
        (WAITING, Backlog(pending=2, rejected=0, oldest_pending_s=14.0), None),
        (WAITING, EMPTY, "record outbox: every queued write is delivered"),
        (
            None,
            Backlog(pending=0, rejected=1, oldest_pending_s=None),
            "record outbox: 0 write(s) wait for the record service; 1 refused by it (see the error log)",
        ),
    ],
)
def test_the_backlog_is_logged_when_it_changes(
    previous: Backlog | None, current: Backlog, line: str | None
) -> None:
    assert describe_backlog(previous, current) == line
