"""The records client against the real record service (fixture `record_service`).

Every test uses its own conversation id, so tests do not see each other's records.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests

from bot.actions.http_client import (
    RequestRejectedError,
    RetryPolicy,
    ServiceUnavailableError,
)
from bot.actions.records_client import (
    ComplaintTicket,
    HandoffContext,
    HandoffTicket,
    NewComplaint,
    NewHandoff,
    RecordsClient,
    ServiceRecord,
)
from bot.actions.settings import ActionSettings, ServiceSettings
from bot.policy import load_policy
from service_common.breaker import CircuitBreaker
from tests.fixtures.desk import WANG_TOKEN, agent_headers, start_desk_service
from tests.fixtures.servers import free_port

BEIJING = timezone(timedelta(hours=8))


@pytest.fixture
def client(record_service) -> RecordsClient:
    return RecordsClient(record_service.url, record_service.token, retry=RetryPolicy(backoff_s=0.01))


@pytest.fixture
def conversation() -> str:
    return f"test-{uuid.uuid4().hex}"


def eligibility_record(conversation: str) -> ServiceRecord:
    return ServiceRecord(
        conversation_id=conversation,
        kind="return_eligibility",
        outcome="eligible",
        order_id="8800001001",
        rule="RET-7D-WINDOW",
        details={"reason": "within_window", "shipping_paid_by": "consumer", "deadline": "2026-05-08"},
    )


def complaint(conversation: str, **changes: object) -> NewComplaint:
    values: dict[str, object] = {
        "conversation_id": conversation,
        "channel": "web",
        "order_id": "8800001001",
        "category": "logistics",
        "description": "快递三天没有更新,联系电话13800138000",
        "contact_phone": "13800138000",
        "due_at": datetime.now(BEIJING) + timedelta(hours=24),
        "rule": "COMPLAINT-24H",
    }
    values.update(changes)
    return NewComplaint(**values)  # type: ignore[arg-type]


def handoff(conversation: str, **changes: object) -> NewHandoff:
    values: dict[str, object] = {
        "conversation_id": conversation,
        "channel": "wechat",
        "order_id": "8800002002",
        "reason": "overdue_refund",
        "priority": 2,
        "status": "queued",
        "due_at": datetime.now(BEIJING) + timedelta(minutes=30),
        "callback_at": None,
        "rule": "HANDOFF-PRIORITY",
        "context": HandoffContext(
            summary="退款超时未到账,顾客要求人工处理",
            transcript=[{"speaker": "user", "text": "我的退款怎么还没到"}],
            slots={"order_id": "8800002002"},
            order_snapshot={"order_id": "8800002002", "status": "delivered"},
            contact_masked="139****5678",
        ),
    }
    values.update(changes)
    return NewHandoff(**values)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------


def test_write_record_returns_the_stored_record(client, conversation):
    stored = client.write_record(eligibility_record(conversation), f"{conversation}:elig:1")

    assert {key: stored[key] for key in ("conversation_id", "kind", "order_id", "outcome", "rule", "details")} == {
        "conversation_id": conversation,
        "kind": "return_eligibility",
        "order_id": "8800001001",
        "outcome": "eligible",
        "rule": "RET-7D-WINDOW",
        "details": {"reason": "within_window", "shipping_paid_by": "consumer", "deadline": "2026-05-08"},
    }
    created_at = datetime.fromisoformat(stored["created_at"])
    assert abs(created_at - datetime.now(timezone.utc)) < timedelta(minutes=1)


def test_the_same_key_writes_a_record_once(client, conversation):
    first = client.write_record(eligibility_record(conversation), f"{conversation}:elig:1")
    second = client.write_record(eligibility_record(conversation), f"{conversation}:elig:1")

    assert second == first
    assert [record["id"] for record in client.records_for(conversation)] == [first["id"]]


def test_records_for_lists_a_conversation_oldest_first(client, conversation):
    identity = ServiceRecord(
        conversation_id=conversation,
        kind="identity_check",
        outcome="verified",
        order_id="8800001001",
        rule="IDENTITY-VERIFY",
        details={"method": "account"},
    )
    client.write_record(identity, f"{conversation}:identity")
    client.write_record(eligibility_record(conversation), f"{conversation}:elig")
    client.write_record(eligibility_record(f"{conversation}-other"), f"{conversation}:other")

    records = client.records_for(conversation)

    assert [(r["kind"], r["outcome"], r["details"]) for r in records] == [
        ("identity_check", "verified", {"method": "account"}),
        ("return_eligibility", "eligible", {"reason": "within_window", "shipping_paid_by": "consumer", "deadline": "2026-05-08"}),
    ]


def test_records_for_an_unknown_conversation_is_empty(client, conversation):
    assert client.records_for(conversation) == []


def test_a_record_from_a_policy_decision(client, conversation):
    decision = load_policy().authority(kind="refund", amount=None)

    record = ServiceRecord.from_decision(conversation, "authority_check", "8800001001", decision, note="test")
    stored = client.write_record(record, f"{conversation}:authority")

    assert (stored["rule"], stored["outcome"]) == (decision.rule, decision.outcome)
    assert stored["details"] == {**decision.to_record_details(), "note": "test"}


def test_reusing_a_key_for_another_record_is_rejected(client, conversation):
    client.write_record(eligibility_record(conversation), f"{conversation}:k")
    other = ServiceRecord(conversation_id=conversation, kind="identity_check", outcome="failed")

    with pytest.raises(RequestRejectedError) as raised:
        client.write_record(other, f"{conversation}:k")

    assert (raised.value.status, raised.value.code) == (409, "idempotency_conflict")


def test_an_outcome_the_contract_does_not_know_is_rejected(client, conversation):
    record = ServiceRecord(conversation_id=conversation, kind="return_eligibility", outcome="maybe")

    with pytest.raises(RequestRejectedError) as raised:
        client.write_record(record, f"{conversation}:bad")

    assert (raised.value.status, raised.value.code) == (422, "invalid_outcome")


def test_a_malformed_idempotency_key_is_rejected(client, conversation):
    with pytest.raises(RequestRejectedError) as raised:
        client.write_record(eligibility_record(conversation), "key with spaces")

    assert (raised.value.status, raised.value.code) == (400, "invalid_idempotency_key")


# --------------------------------------------------------------------------------------
# Complaints
# --------------------------------------------------------------------------------------


def test_create_complaint_opens_a_ticket_and_its_record(client, conversation):
    due_at = datetime.now(BEIJING) + timedelta(hours=24)
    new = complaint(conversation, due_at=due_at)

    ticket = client.create_complaint(new, f"{conversation}:complaint")

    assert isinstance(ticket, ComplaintTicket)
    assert ticket.ticket_id.startswith("TS") and len(ticket.ticket_id) == 16
    assert (ticket.status, ticket.category) == ("open", "logistics")
    assert abs(ticket.due_at - due_at) < timedelta(seconds=1)
    assert (ticket.record["kind"], ticket.record["outcome"], ticket.record["rule"]) == (
        "complaint",
        "created",
        "COMPLAINT-24H",
    )
    assert ticket.record["details"]["ticket_id"] == ticket.ticket_id
    assert [r["kind"] for r in client.records_for(conversation)] == ["complaint"]
    assert "13800138000" not in repr(new)
    assert "13800138000" not in repr(ticket)


def test_the_same_key_files_a_complaint_once(client, conversation):
    new = complaint(conversation)

    first = client.create_complaint(new, f"{conversation}:complaint")
    second = client.create_complaint(new, f"{conversation}:complaint")

    assert second.ticket_id == first.ticket_id
    assert len(client.records_for(conversation)) == 1


def test_a_complaint_due_in_the_past_is_rejected(client, conversation):
    with pytest.raises(RequestRejectedError) as raised:
        client.create_complaint(
            complaint(conversation, due_at=datetime.now(BEIJING) - timedelta(minutes=1)), f"{conversation}:c"
        )

    assert (raised.value.status, raised.value.code) == (422, "due_at_not_in_future")


def test_a_complaint_with_a_naive_due_time_is_refused_before_sending(client, conversation):
    with pytest.raises(ValueError):
        client.create_complaint(complaint(conversation, due_at=datetime(2030, 1, 1, 12, 0)), f"{conversation}:c")


def test_a_complaint_due_time_may_be_an_iso_string(client, conversation):
    due_at = (datetime.now(BEIJING) + timedelta(hours=24)).replace(microsecond=0)

    ticket = client.create_complaint(complaint(conversation, due_at=due_at.isoformat()), f"{conversation}:c")

    assert ticket.due_at == due_at


@pytest.mark.parametrize("due_at", ["2030-01-01T12:00:00", "tomorrow"])
def test_a_complaint_due_string_without_offset_is_refused_before_sending(client, conversation, due_at):
    with pytest.raises(ValueError):
        client.create_complaint(complaint(conversation, due_at=due_at), f"{conversation}:c")
    assert client.records_for(conversation) == []


def test_an_unknown_complaint_category_is_rejected(client, conversation):
    with pytest.raises(RequestRejectedError) as raised:
        client.create_complaint(complaint(conversation, category="weather"), f"{conversation}:c")

    assert (raised.value.status, raised.value.code) == (422, "invalid_category")


# --------------------------------------------------------------------------------------
# Handoffs
# --------------------------------------------------------------------------------------


def test_create_handoff_queues_a_ticket_and_its_record(client, conversation):
    new = handoff(conversation)

    ticket = client.create_handoff(new, f"{conversation}:handoff")

    assert isinstance(ticket, HandoffTicket)
    assert ticket.ticket_id.startswith("HO")
    assert (ticket.status, ticket.reason, ticket.priority, ticket.callback_at) == ("queued", "overdue_refund", 2, None)
    assert (ticket.record["kind"], ticket.record["outcome"], ticket.record["order_id"]) == (
        "handoff",
        "queued",
        "8800002002",
    )
    assert ticket.record["details"]["context"] == {
        "summary": "退款超时未到账,顾客要求人工处理",
        "transcript": [{"speaker": "user", "text": "我的退款怎么还没到"}],
        "slots": {"order_id": "8800002002"},
        "order_snapshot": {"order_id": "8800002002", "status": "delivered"},
        "contact_masked": "139****5678",
    }


def test_a_handoff_context_may_be_a_plain_mapping(client, conversation):
    context: dict[str, object] = {
        "summary": "顾客要求人工",
        "transcript": [],
        "slots": {},
        "order_snapshot": None,
        "contact_masked": None,
    }

    ticket = client.create_handoff(handoff(conversation, context=context), f"{conversation}:handoff")

    assert ticket.record["details"]["context"] == context


def test_a_handoff_outside_service_hours_schedules_a_callback(client, conversation):
    callback_at = (datetime.now(BEIJING) + timedelta(hours=10)).replace(microsecond=0)
    new = handoff(
        conversation,
        status="callback_scheduled",
        callback_at=callback_at,
        due_at=callback_at + timedelta(minutes=30),
        reason="user_request",
    )

    ticket = client.create_handoff(new, f"{conversation}:handoff")

    assert (ticket.status, ticket.callback_at) == ("callback_scheduled", callback_at)
    assert ticket.record["outcome"] == "callback_scheduled"


def test_the_same_key_opens_a_handoff_once(client, conversation):
    new = handoff(conversation)

    first = client.create_handoff(new, f"{conversation}:handoff")
    second = client.create_handoff(new, f"{conversation}:handoff")

    assert second.ticket_id == first.ticket_id
    assert len(client.records_for(conversation)) == 1


def test_a_scheduled_callback_without_its_time_is_rejected(client, conversation):
    with pytest.raises(RequestRejectedError) as raised:
        client.create_handoff(handoff(conversation, status="callback_scheduled"), f"{conversation}:h")

    assert (raised.value.status, raised.value.code) == (422, "invalid_callback_at")


# --------------------------------------------------------------------------------------
# Authentication, down service, settings
# --------------------------------------------------------------------------------------


def test_wrong_token_is_rejected_with_401(record_service, conversation):
    client = RecordsClient(record_service.url, "not-the-token")

    with pytest.raises(RequestRejectedError) as raised:
        client.records_for(conversation)

    assert (raised.value.status, raised.value.code) == (401, "unauthorized")


def test_a_write_to_a_down_service_is_retried_then_service_unavailable(conversation):
    delays: list[float] = []
    client = RecordsClient(
        f"http://127.0.0.1:{free_port()}",
        "t",
        retry=RetryPolicy(max_retries=3, backoff_s=0.01),
        breaker=CircuitBreaker(failure_threshold=5),
        sleep=delays.append,
    )

    with pytest.raises(ServiceUnavailableError) as raised:
        client.write_record(eligibility_record(conversation), f"{conversation}:down")

    assert delays == [0.01, 0.02, 0.04]
    assert str(raised.value) == "record service write_record: could not connect"


def test_from_settings_uses_the_records_settings(record_service, conversation):
    settings = ActionSettings(
        orders=ServiceSettings(url="http://127.0.0.1:1", token="unused"),
        records=ServiceSettings(url=record_service.url, token=record_service.token, max_retries=4, read_timeout_s=3.0),
    )

    client = RecordsClient.from_settings(settings)

    assert client.retry.max_retries == 4
    assert client.timeout == (2.0, 3.0)
    assert client.records_for(conversation) == []


# --------------------------------------------------------------------------------------
# The desk's presence
# --------------------------------------------------------------------------------------


def test_no_agent_is_online_at_a_record_service_without_agents(client):
    assert client.desk_presence() == 0


def test_an_agent_calling_the_desk_is_online(tmp_path):
    service = start_desk_service(
        tmp_path, "records.log", {"RECORDS_BOT_URL": "http://127.0.0.1:9", "RECORDS_BOT_TOKEN": "unused"}
    )
    try:
        client = RecordsClient(service.url, service.token)
        before = client.desk_presence()
        requests.get(f"{service.url}/desk/api/me", headers=agent_headers(WANG_TOKEN), timeout=10)
        after = client.desk_presence()
    finally:
        service.stop()

    assert (before, after) == (0, 1)
