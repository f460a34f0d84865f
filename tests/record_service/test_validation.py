"""Pure input checks of the record service, called directly."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from record_service import validation
from record_service.repository import HandoffContext, NewRecord
from service_common.http import ApiError


def code_of(call: Any, *args: Any) -> tuple[int, str]:
    with pytest.raises(ApiError) as raised:
        call(*args)
    return raised.value.status, raised.value.code


def test_new_record_keeps_what_was_sent() -> None:
    body = {
        "conversation_id": "wx:oAbC-123",
        "kind": "identity_check",
        "order_id": None,
        "outcome": "failed",
        "rule": None,
        "details": {"method": "caller_id"},
    }

    assert validation.new_record(body) == NewRecord(
        conversation_id="wx:oAbC-123",
        kind="identity_check",
        order_id=None,
        outcome="failed",
        rule=None,
        details={"method": "caller_id"},
    )


def test_missing_nullable_fields_default_to_null() -> None:
    record = validation.new_record(
        {"conversation_id": "c", "kind": "complaint", "outcome": "created", "details": {}}
    )

    assert (record.order_id, record.rule) == (None, None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T18:00:00+08:00", datetime(2024, 5, 1, 10, tzinfo=timezone.utc)),
        ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, tzinfo=timezone.utc)),
        ("2024-05-01T10:00:00.250000-02:00", datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=timezone.utc)),
    ],
)
def test_aware_times_come_back_in_utc(value: str, expected: datetime) -> None:
    parsed = validation._aware_time(value, "due_at")

    assert parsed == expected
    assert parsed.utcoffset() == timezone.utc.utcoffset(None)


@pytest.mark.parametrize(
    "value",
    ["2024-05-01T18:00:00", "2024-05-01", "", "Z", "0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-08:00",
     "2024-05-01T18:00:00+08:00" + " " * 20, None, 20240501],
)
def test_times_without_zone_or_out_of_range_are_refused(value: object) -> None:
    assert code_of(validation._aware_time, value, "due_at") == (422, "invalid_due_at")


@pytest.mark.parametrize(
    "value",
    [
        {"n": float("nan")},
        {"n": float("inf")},
        {"n": 2**63},
        {"n": -(2**63) - 1},
        {"s": "\ud800"},
        {"\ud800": 1},
        {"s": "\x1b[31m"},
        {"set": {1, 2}},
    ],
)
def test_details_that_cannot_be_stored_safely_are_refused(value: dict[str, Any]) -> None:
    assert code_of(validation._json_object, value, "details") == (422, "invalid_details")


@pytest.mark.parametrize(
    "value",
    [{"n": 2**63 - 1}, {"n": -(2**63)}, {"f": 1.5e300}, {"t": "tab\tnew\nline\r"}, {"deep": [[[[1]]]]}],
)
def test_details_at_the_limits_are_accepted(value: dict[str, Any]) -> None:
    assert validation._json_object(value, "details") is value


def test_nesting_limit_is_exact() -> None:
    def nested(depth: int) -> dict[str, Any]:
        tree: dict[str, Any] = {}
        for _ in range(depth - 1):
            tree = {"n": tree}
        return tree

    assert validation._json_object(nested(validation.MAX_JSON_DEPTH), "details")
    assert code_of(validation._json_object, nested(validation.MAX_JSON_DEPTH + 1), "details") == (
        422,
        "invalid_details",
    )


def test_lone_surrogate_in_conversation_id_is_refused() -> None:
    body = {"conversation_id": "c\ud800", "kind": "x", "outcome": "y", "details": {}}

    assert code_of(validation.new_record, body) == (422, "invalid_conversation_id")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, 100), ("", 100), ("1", 1), ("500", 500)],
)
def test_ticket_limit(value: str | None, expected: int) -> None:
    assert validation.ticket_limit(value) == expected


def test_handoff_context_fills_the_optional_fields() -> None:
    context = validation._handoff_context({"summary": "", "transcript": ["hi"], "slots": {"a": 1}})

    assert context == HandoffContext(
        summary="", transcript=["hi"], slots={"a": 1}, order_snapshot=None, contact_masked=None
    )


@pytest.mark.parametrize("contact", ["138****8000", "尾号8000", "+86 138****8000"])
def test_masked_contacts_are_accepted(contact: str) -> None:
    context = validation._handoff_context(
        {"summary": "s", "transcript": [], "slots": {}, "contact_masked": contact}
    )

    assert context.contact_masked == contact


@pytest.mark.parametrize("value", ["TS24050112345678", "HO24050112345678"])
def test_well_formed_ticket_ids_pass(value: str) -> None:
    assert validation.ticket_id(value, "x_not_found") == value


@pytest.mark.parametrize("value", ["TS2405011234567", "TS240501123456789", "XX24050112345678", "ts24050112345678"])
def test_malformed_ticket_ids_are_not_found(value: str) -> None:
    assert code_of(validation.ticket_id, value, "x_not_found") == (404, "x_not_found")


COMPLAINT_BODY = {
    "conversation_id": "c",
    "channel": "web",
    "category": "logistics",
    "description": "快递员态度太差了",
    "due_at": "2024-05-02T10:00:00+08:00",
    "rule": "COMPLAINT-24H",
}


def test_a_complaint_may_carry_the_ticket_id_and_time_the_bot_gave_it() -> None:
    complaint = validation.new_complaint(
        {**COMPLAINT_BODY, "ticket_id": "TS24050112345678", "occurred_at": "2024-05-01T10:00:00+08:00"}
    )

    assert (complaint.ticket_id, complaint.occurred_at) == (
        "TS24050112345678",
        datetime(2024, 5, 1, 2, tzinfo=timezone.utc),
    )


@pytest.mark.parametrize("value", ["HO24050112345678", "TS2405011234567", 24050112345678, ""])
def test_a_complaint_ticket_id_of_another_shape_is_refused(value: object) -> None:
    assert code_of(validation.new_complaint, {**COMPLAINT_BODY, "ticket_id": value}) == (422, "invalid_ticket_id")


def test_a_handoff_ticket_id_must_be_a_handoff_id() -> None:
    body = {
        "conversation_id": "c",
        "channel": "web",
        "reason": "user_request",
        "priority": 3,
        "status": "queued",
        "due_at": "2024-05-02T10:00:00+08:00",
        "context": {"summary": "s", "transcript": [], "slots": {}},
    }

    assert validation.new_handoff({**body, "ticket_id": "HO24050112345678"}).ticket_id == "HO24050112345678"
    assert code_of(validation.new_handoff, {**body, "ticket_id": "TS24050112345678"}) == (422, "invalid_ticket_id")


def test_a_record_without_a_zone_in_occurred_at_is_refused() -> None:
    body = {"conversation_id": "c", "kind": "x", "outcome": "y", "details": {}, "occurred_at": "2024-05-01T10:00:00"}

    assert code_of(validation.new_record, body) == (422, "invalid_occurred_at")
