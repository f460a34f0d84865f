"""The record repository on a real SQLite database, with a controlled clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker

from record_service.db import migrate
from record_service.repository import (
    ConflictError,
    InvalidRequestError,
    NewComplaint,
    NewRecord,
    RecordRepository,
)
from service_common.db import make_engine, session_factory, transaction

NOW = datetime(2024, 4, 30, 17, 30, tzinfo=timezone.utc)  # 01:30 on 1 May in Beijing


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker]:
    engine = make_engine(f"sqlite:///{tmp_path / 'records.db'}")
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


def complaint(due_at: datetime) -> NewComplaint:
    return NewComplaint(
        conversation_id="c1",
        channel="web",
        order_id="A1",
        category="merchant",
        description="商家不发货",
        contact_phone=None,
        due_at=due_at,
        rule="complaint_24h",
    )


def test_ticket_id_carries_the_beijing_date(sessions: sessionmaker) -> None:
    with transaction(sessions) as session:
        created = RecordRepository(session, clock=lambda: NOW).create_complaint(
            complaint(NOW + timedelta(hours=24)), "k1"
        )

    assert created.ticket is not None
    assert created.ticket.ticket_id.startswith("TS240501")
    assert created.record.created_at == NOW
    assert created.record.details == {
        "ticket_id": created.ticket.ticket_id,
        "channel": "web",
        "category": "merchant",
        "due_at": "2024-05-01T17:30:00+00:00",
        "evidence_count": 0,
    }


def test_due_time_must_be_after_now(sessions: sessionmaker) -> None:
    with transaction(sessions) as session, pytest.raises(InvalidRequestError) as raised:
        RecordRepository(session, clock=lambda: NOW).create_complaint(complaint(NOW), "k1")

    assert raised.value.code == "due_at_not_in_future"


def test_a_complaint_is_due_at_most_24_hours_after_it_is_made(sessions: sessionmaker) -> None:
    with transaction(sessions) as session:
        created = RecordRepository(session, clock=lambda: NOW).create_complaint(
            complaint(NOW + timedelta(hours=24)), "k1"
        )
    with transaction(sessions) as session, pytest.raises(InvalidRequestError) as raised:
        RecordRepository(session, clock=lambda: NOW).create_complaint(
            complaint(NOW + timedelta(hours=24, seconds=1)), "k2"
        )

    assert created.ticket.due_at == NOW + timedelta(hours=24)
    assert raised.value.code == "due_at_beyond_24_hours"


def test_a_late_delivery_is_held_to_24_hours_from_when_the_complaint_was_made(sessions: sessionmaker) -> None:
    made = NOW - timedelta(hours=30)  # queued in the bot's outbox while this service was down
    late = replace(complaint(NOW + timedelta(hours=1)), occurred_at=made)

    with transaction(sessions) as session, pytest.raises(InvalidRequestError) as raised:
        RecordRepository(session, clock=lambda: NOW).create_complaint(late, "k1")

    assert raised.value.code == "due_at_beyond_24_hours"


def test_a_retry_after_the_due_time_still_gets_its_ticket(sessions: sessionmaker) -> None:
    request = complaint(NOW + timedelta(hours=1))
    with transaction(sessions) as session:
        first = RecordRepository(session, clock=lambda: NOW).create_complaint(request, "k1")
    later = NOW + timedelta(hours=2)

    with transaction(sessions) as session:
        retry = RecordRepository(session, clock=lambda: later).create_complaint(request, "k1")

    assert retry.is_new is False
    assert retry.ticket is not None and first.ticket is not None
    assert (retry.ticket.ticket_id, retry.record.id) == (first.ticket.ticket_id, first.record.id)


def test_a_failed_transaction_leaves_no_ticket_and_no_record(sessions: sessionmaker) -> None:
    with pytest.raises(RuntimeError), transaction(sessions) as session:
        RecordRepository(session, clock=lambda: NOW).create_complaint(
            complaint(NOW + timedelta(hours=1)), "k1"
        )
        raise RuntimeError("the response could not be built")

    with transaction(sessions) as session:
        repository = RecordRepository(session, clock=lambda: NOW)
        assert repository.records("c1") == []
        # The key was rolled back with the rest: the same request can be made again.
        assert repository.create_complaint(complaint(NOW + timedelta(hours=1)), "k1").is_new is True


def test_same_key_for_a_different_record_is_a_conflict(sessions: sessionmaker) -> None:
    record = NewRecord("c1", "identity_check", None, "verified", None, {"method": "account"})
    with transaction(sessions) as session:
        RecordRepository(session, clock=lambda: NOW).create_record(record, "k1")

    with transaction(sessions) as session, pytest.raises(ConflictError) as raised:
        RecordRepository(session, clock=lambda: NOW).create_record(
            NewRecord("c1", "identity_check", None, "failed", None, {"method": "account"}), "k1"
        )

    assert raised.value.code == "idempotency_conflict"


def test_records_are_listed_in_time_order(sessions: sessionmaker) -> None:
    times = iter([NOW + timedelta(minutes=5), NOW])
    with transaction(sessions) as session:
        repository = RecordRepository(session, clock=lambda: next(times))
        later = repository.create_record(NewRecord("c1", "x", None, "late", None, {}), "k1")
        earlier = repository.create_record(NewRecord("c1", "x", None, "early", None, {}), "k2")

    with transaction(sessions) as session:
        listed = RecordRepository(session).records("c1")

    assert [record.id for record in listed] == [earlier.record.id, later.record.id]


def test_a_ticket_keeps_the_id_and_time_the_bot_gave_it(sessions: sessionmaker) -> None:
    opened = NOW - timedelta(minutes=30)  # queued by the bot while this service was down
    request = replace(complaint(opened + timedelta(hours=24)), ticket_id="TS24050112345678", occurred_at=opened)
    with transaction(sessions) as session:
        created = RecordRepository(session, clock=lambda: NOW).create_complaint(request, "k1")

    assert created.ticket is not None
    assert (created.ticket.ticket_id, created.ticket.created_at) == ("TS24050112345678", opened)
    assert (created.record.details["ticket_id"], created.record.created_at) == ("TS24050112345678", opened)


def test_a_given_ticket_id_taken_by_another_request_is_a_conflict(sessions: sessionmaker) -> None:
    request = replace(complaint(NOW + timedelta(hours=24)), ticket_id="TS24050112345678")
    with transaction(sessions) as session:
        RecordRepository(session, clock=lambda: NOW).create_complaint(request, "k1")

    with transaction(sessions) as session, pytest.raises(ConflictError) as raised:
        RecordRepository(session, clock=lambda: NOW).create_complaint(request, "k2")

    assert raised.value.code == "ticket_id_taken"


def test_a_queued_ticket_may_arrive_after_its_due_time(sessions: sessionmaker) -> None:
    opened = NOW - timedelta(hours=25)
    request = replace(complaint(opened + timedelta(hours=24)), occurred_at=opened)
    with transaction(sessions) as session:
        created = RecordRepository(session, clock=lambda: NOW).create_complaint(request, "k1")

    assert created.ticket is not None and created.ticket.due_at < NOW


def test_a_decision_time_ahead_of_the_clock_is_dated_at_arrival(sessions: sessionmaker) -> None:
    record = NewRecord("c1", "x", None, "y", None, {}, occurred_at=NOW + timedelta(hours=6))
    with transaction(sessions) as session:
        created = RecordRepository(session, clock=lambda: NOW).create_record(record, "k1")

    assert created.record.created_at == NOW


def test_a_record_queued_earlier_is_listed_before_later_ones(sessions: sessionmaker) -> None:
    with transaction(sessions) as session:
        repository = RecordRepository(session, clock=lambda: NOW)
        later = repository.create_record(NewRecord("c1", "x", None, "late", None, {}), "k1")
        queued = repository.create_record(
            NewRecord("c1", "x", None, "early", None, {}, occurred_at=NOW - timedelta(minutes=1)), "k2"
        )

    with transaction(sessions) as session:
        listed = RecordRepository(session).records("c1")

    assert [record.id for record in listed] == [queued.record.id, later.record.id]
