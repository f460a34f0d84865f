"""The record service's HTTP API, against the real `python -m record_service` process."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from tests.fixtures.servers import RunningService

TIMEOUT_S = 10


def new_id(prefix: str) -> str:
    """A fresh conversation id or idempotency key, so tests never see each other's data."""
    return f"{prefix}-{uuid.uuid4().hex}"


def auth(service: RunningService, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {service.token}", **headers}


def post(service: RunningService, path: str, body: Any, key: str | None = None) -> requests.Response:
    headers = auth(service) if key is None else auth(service, **{"Idempotency-Key": key})
    return requests.post(f"{service.url}{path}", json=body, headers=headers, timeout=TIMEOUT_S)


def get(service: RunningService, path: str, **params: str) -> requests.Response:
    return requests.get(f"{service.url}{path}", params=params, headers=auth(service), timeout=TIMEOUT_S)


def records_of(service: RunningService, conversation_id: str) -> list[dict[str, Any]]:
    response = get(service, "/api/records", conversation_id=conversation_id)
    assert response.status_code == 200
    records: list[dict[str, Any]] = response.json()["records"]
    return records


def error_code(response: requests.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def eligibility_record(conversation_id: str) -> dict[str, Any]:
    return {
        "conversation_id": conversation_id,
        "kind": "return_eligibility",
        "order_id": "A1001",
        "outcome": "eligible",
        "rule": "no_reason_7d",
        "details": {
            "reason": "within_window",
            "shipping_paid_by": "consumer",
            "deadline": "2024-05-08",
        },
    }


def in_hours(hours: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(hours=hours)


def complaint_body(conversation_id: str, due_at: datetime | None = None) -> dict[str, Any]:
    return {
        "conversation_id": conversation_id,
        "channel": "wechat",
        "order_id": "A1002",
        "category": "logistics",
        "description": "快递一周没有更新物流信息",
        "contact_phone": "13800138000",
        "due_at": (due_at or in_hours(24)).isoformat(),
        "rule": "complaint_24h",
    }


def handoff_body(conversation_id: str, **changes: Any) -> dict[str, Any]:
    body = {
        "conversation_id": conversation_id,
        "channel": "web",
        "order_id": "A1003",
        "reason": "overdue_refund",
        "priority": 5,
        "status": "queued",
        "due_at": in_hours(2).isoformat(),
        "callback_at": None,
        "rule": "refund_deadline",
        "context": {
            "summary": "退款超期未到账,用户要求人工处理",
            "transcript": [
                {"role": "user", "text": "我的退款怎么还没到"},
                {"role": "bot", "text": "您的退款已超过承诺时间"},
            ],
            "slots": {"order_id": "A1003", "identity_verified": True},
            "order_snapshot": {"id": "A1003", "status": "delivered", "amount": "199.00"},
            "contact_masked": "138****8000",
        },
    }
    body.update(changes)
    return body


def parse_time(value: str) -> datetime:
    assert value.endswith("+00:00")
    return datetime.fromisoformat(value)


# ---------------------------------------------------------------- authentication


def test_health_needs_no_token(record_service: RunningService) -> None:
    response = requests.get(f"{record_service.url}/health", timeout=TIMEOUT_S)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/records?conversation_id=c1"),
        ("POST", "/api/records"),
        ("POST", "/api/complaints"),
        ("GET", "/api/complaints/TS24050112345678"),
        ("POST", "/api/handoffs"),
        ("GET", "/api/handoffs?status=queued"),
        ("GET", "/api/handoffs/HO24050112345678"),
    ],
)
@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "test-records-token", "Bearer "])
def test_every_api_route_needs_the_token(
    record_service: RunningService, method: str, path: str, authorization: str | None
) -> None:
    headers = {"Idempotency-Key": new_id("k")}
    if authorization is not None:
        headers["Authorization"] = authorization

    response = requests.request(
        method, f"{record_service.url}{path}", json={}, headers=headers, timeout=TIMEOUT_S
    )

    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "unauthorized", "message": "a valid bearer token is required"}
    }


def test_a_refused_write_stores_nothing(record_service: RunningService) -> None:
    conversation_id = new_id("conv")

    response = requests.post(
        f"{record_service.url}/api/records",
        json=eligibility_record(conversation_id),
        headers={"Authorization": "Bearer wrong", "Idempotency-Key": new_id("k")},
        timeout=TIMEOUT_S,
    )

    assert response.status_code == 401
    assert records_of(record_service, conversation_id) == []


# ---------------------------------------------------------------- records


def test_create_record_returns_the_stored_record(record_service: RunningService) -> None:
    conversation_id = new_id("conv")
    before = datetime.now(timezone.utc)

    response = post(record_service, "/api/records", eligibility_record(conversation_id), new_id("k"))

    assert response.status_code == 201
    record = response.json()
    assert isinstance(record["id"], int)
    assert before - timedelta(seconds=1) <= parse_time(record["created_at"]) <= datetime.now(timezone.utc)
    assert {key: value for key, value in record.items() if key not in ("id", "created_at")} == (
        eligibility_record(conversation_id)
    )
    assert records_of(record_service, conversation_id) == [record]


def test_list_records_has_exactly_the_contract_fields_oldest_first(record_service: RunningService) -> None:
    conversation_id = new_id("conv")
    identity = {
        "conversation_id": conversation_id,
        "kind": "identity_check",
        "order_id": None,
        "outcome": "verified",
        "rule": None,
        "details": {"method": "phone_last4"},
    }
    refund = {
        "conversation_id": conversation_id,
        "kind": "refund_status",
        "order_id": "A1001",
        "outcome": "on_time",
        "rule": "refund_deadline",
        "details": {"refund_id": "RF1", "status": "processing", "due_by": "2024-05-10", "method": "alipay"},
    }
    first = post(record_service, "/api/records", identity, new_id("k")).json()
    second = post(record_service, "/api/records", refund, new_id("k")).json()
    post(record_service, "/api/records", eligibility_record(new_id("other")), new_id("k"))

    records = records_of(record_service, conversation_id)

    assert [record["id"] for record in records] == [first["id"], second["id"]]
    assert [set(record) for record in records] == [
        {"id", "conversation_id", "kind", "order_id", "outcome", "rule", "created_at", "details"}
    ] * 2
    assert records[0]["details"] == {"method": "phone_last4"}
    assert records[0]["order_id"] is None
    assert records[1]["outcome"] == "on_time"
    assert parse_time(records[0]["created_at"]) <= parse_time(records[1]["created_at"])


def test_unknown_kind_is_accepted_with_any_outcome(record_service: RunningService) -> None:
    conversation_id = new_id("conv")
    body: dict[str, Any] = {
        "conversation_id": conversation_id,
        "kind": "exchange_request",
        "order_id": "A1",
        "outcome": "submitted",
        "rule": None,
        "details": {},
    }

    response = post(record_service, "/api/records", body, new_id("k"))

    assert response.status_code == 201
    assert [record["kind"] for record in records_of(record_service, conversation_id)] == ["exchange_request"]


def test_chinese_text_comes_back_unchanged(record_service: RunningService) -> None:
    conversation_id = new_id("会话")
    body = eligibility_record(conversation_id)
    body["details"] = {"note": "七天无理由退货,运费由消费者承担\n第二行", "nested": {"list": [1, 2.5, None]}}

    created = post(record_service, "/api/records", body, new_id("k")).json()

    assert created["details"] == body["details"]
    assert records_of(record_service, conversation_id)[0]["details"] == body["details"]


def test_empty_conversation_has_no_records(record_service: RunningService) -> None:
    assert records_of(record_service, new_id("nobody")) == []


# ---------------------------------------------------------------- idempotency


def test_replay_with_same_key_and_body_returns_the_same_record(record_service: RunningService) -> None:
    conversation_id = new_id("conv")
    key = new_id("k")
    body = eligibility_record(conversation_id)

    first = post(record_service, "/api/records", body, key)
    second = post(record_service, "/api/records", body, key)

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json()
    assert len(records_of(record_service, conversation_id)) == 1


def test_same_key_with_another_body_is_a_conflict(record_service: RunningService) -> None:
    conversation_id = new_id("conv")
    key = new_id("k")
    post(record_service, "/api/records", eligibility_record(conversation_id), key)
    changed = {**eligibility_record(conversation_id), "outcome": "not_eligible"}

    response = post(record_service, "/api/records", changed, key)

    assert response.status_code == 409
    assert error_code(response) == "idempotency_conflict"
    assert [record["outcome"] for record in records_of(record_service, conversation_id)] == ["eligible"]


def test_same_key_on_another_operation_is_a_conflict(record_service: RunningService) -> None:
    key = new_id("k")
    assert post(record_service, "/api/records", eligibility_record(new_id("conv")), key).status_code == 201

    response = post(record_service, "/api/complaints", complaint_body(new_id("conv")), key)

    assert response.status_code == 409
    assert error_code(response) == "idempotency_conflict"


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("key", "expected_code"),
    [
        (None, "idempotency_key_required"),
        ("", "idempotency_key_required"),
        ("has space", "invalid_idempotency_key"),
        ("x" * 101, "invalid_idempotency_key"),
        ("键", "invalid_idempotency_key"),
    ],
)
def test_bad_idempotency_key_is_400(record_service: RunningService, key: str | None, expected_code: str) -> None:
    headers = auth(record_service)
    if key is not None:
        headers["Idempotency-Key"] = key
    body = eligibility_record(new_id("conv"))

    # Non-ASCII header values must be sent as raw bytes.
    encoded = {name: value.encode() for name, value in headers.items()}
    response = requests.post(
        f"{record_service.url}/api/records", json=body, headers=encoded, timeout=TIMEOUT_S
    )

    assert response.status_code == 400
    assert error_code(response) == expected_code
    assert records_of(record_service, body["conversation_id"]) == []


def test_longest_allowed_idempotency_key_is_accepted(record_service: RunningService) -> None:
    key = "a.B_9:-" + "x" * 93

    response = post(record_service, "/api/records", eligibility_record(new_id("conv")), key)

    assert response.status_code == 201


@pytest.mark.parametrize(
    ("changes", "expected_code"),
    [
        ({"conversation_id": ""}, "invalid_conversation_id"),
        ({"conversation_id": "c" * 129}, "invalid_conversation_id"),
        ({"conversation_id": "a\nb"}, "invalid_conversation_id"),
        ({"conversation_id": 12}, "invalid_conversation_id"),
        ({"kind": "Return"}, "invalid_kind"),
        ({"kind": "k" * 41}, "invalid_kind"),
        ({"kind": None}, "invalid_kind"),
        ({"outcome": "maybe"}, "invalid_outcome"),
        ({"outcome": None}, "invalid_outcome"),
        ({"order_id": 1001}, "invalid_order_id"),
        ({"order_id": ""}, "invalid_order_id"),
        ({"rule": ["no_reason_7d"]}, "invalid_rule"),
        ({"details": "eligible"}, "invalid_details"),
        ({"details": None}, "invalid_details"),
        ({"details": {"bad": "\u0000"}}, "invalid_details"),
        ({"details": {"too_big": 2**70}}, "invalid_details"),
        ({"surprise": 1}, "unknown_field"),
    ],
)
def test_invalid_record_is_422(record_service: RunningService, changes: dict[str, Any], expected_code: str) -> None:
    conversation_id = new_id("conv")
    body = {**eligibility_record(conversation_id), **changes}

    response = post(record_service, "/api/records", body, new_id("k"))

    assert response.status_code == 422
    assert error_code(response) == expected_code
    assert records_of(record_service, conversation_id) == []


@pytest.mark.parametrize(
    ("kind", "outcome"),
    [
        ("identity_check", "eligible"),
        ("return_eligibility", "verified"),
        ("refund_status", "late"),
        ("complaint", "queued"),
        ("handoff", "created"),
    ],
)
def test_contract_kinds_only_take_their_outcomes(record_service: RunningService, kind: str, outcome: str) -> None:
    body = {**eligibility_record(new_id("conv")), "kind": kind, "outcome": outcome}

    response = post(record_service, "/api/records", body, new_id("k"))

    assert response.status_code == 422
    assert error_code(response) == "invalid_outcome"


def test_deeply_nested_details_are_refused(record_service: RunningService) -> None:
    nested: dict[str, Any] = {}
    for _ in range(40):
        nested = {"n": nested}
    body = {**eligibility_record(new_id("conv")), "details": nested}

    response = post(record_service, "/api/records", body, new_id("k"))

    assert response.status_code == 422
    assert error_code(response) == "invalid_details"


@pytest.mark.parametrize("path", ["/api/records", "/api/complaints", "/api/handoffs"])
@pytest.mark.parametrize(
    ("raw", "status", "expected_code"),
    [
        (b'{"conversation_id": ', 400, "malformed_json"),
        (b"\xff\xfe not utf-8", 400, "malformed_json"),
        (b"", 422, "invalid_body"),  # Sanic reads an empty body as no JSON at all
        (b"[1, 2]", 422, "invalid_body"),
        (b'"text"', 422, "invalid_body"),
        (b"null", 422, "invalid_body"),
    ],
)
def test_malformed_or_non_object_body(
    record_service: RunningService, path: str, raw: bytes, status: int, expected_code: str
) -> None:
    headers = auth(record_service, **{"Idempotency-Key": new_id("k"), "Content-Type": "application/json"})

    response = requests.post(f"{record_service.url}{path}", data=raw, headers=headers, timeout=TIMEOUT_S)

    assert response.status_code == status
    assert error_code(response) == expected_code


@pytest.mark.parametrize("path", ["/api/records", "/api/complaints", "/api/handoffs"])
def test_oversized_body_is_413(record_service: RunningService, path: str) -> None:
    headers = auth(record_service, **{"Idempotency-Key": new_id("k"), "Content-Type": "application/json"})
    body = b'{"details": "' + b"x" * (1024 * 1024) + b'"}'

    response = requests.post(f"{record_service.url}{path}", data=body, headers=headers, timeout=TIMEOUT_S)

    assert response.status_code == 413
    assert error_code(response) == "payload_too_large"


def test_body_just_under_the_limit_is_accepted(record_service: RunningService) -> None:
    conversation_id = new_id("conv")
    body = {**eligibility_record(conversation_id), "details": {"blob": "x" * (250 * 1024)}}

    response = post(record_service, "/api/records", body, new_id("k"))

    assert response.status_code == 201
    assert len(records_of(record_service, conversation_id)[0]["details"]["blob"]) == 250 * 1024


@pytest.mark.parametrize(
    ("params", "status", "expected_code"),
    [
        ({}, 400, "conversation_id_required"),
        ({"conversation_id": ""}, 400, "conversation_id_required"),
        ({"conversation_id": "c" * 129}, 422, "invalid_conversation_id"),
    ],
)
def test_list_records_bad_query(
    record_service: RunningService, params: dict[str, str], status: int, expected_code: str
) -> None:
    response = get(record_service, "/api/records", **params)

    assert response.status_code == status
    assert error_code(response) == expected_code


@pytest.mark.parametrize(("method", "path"), [("DELETE", "/api/records"), ("PUT", "/api/records"),
                                              ("PATCH", "/api/records")])
def test_records_cannot_be_changed_or_deleted(record_service: RunningService, method: str, path: str) -> None:
    response = requests.request(method, f"{record_service.url}{path}", headers=auth(record_service),
                                timeout=TIMEOUT_S)

    assert response.status_code == 405
    assert error_code(response) == "method_not_allowed"


def test_unknown_path_is_a_json_404(record_service: RunningService) -> None:
    response = get(record_service, "/api/nothing")

    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "no such resource"}}


# ---------------------------------------------------------------- complaints


def test_complaint_creates_ticket_and_record_together(record_service: RunningService) -> None:
    conversation_id = new_id("conv")
    due_at = in_hours(24).replace(microsecond=0)

    response = post(record_service, "/api/complaints", complaint_body(conversation_id, due_at), new_id("k"))

    assert response.status_code == 201
    ticket, record = response.json()["ticket"], response.json()["record"]
    ticket_id = ticket["ticket_id"]
    beijing_today = datetime.now(timezone(timedelta(hours=8))).strftime("%y%m%d")
    assert ticket_id.startswith(f"TS{beijing_today}") and len(ticket_id) == 16 and ticket_id[2:].isdigit()
    assert ticket == {
        "ticket_id": ticket_id,
        "conversation_id": conversation_id,
        "channel": "wechat",
        "order_id": "A1002",
        "category": "logistics",
        "description": "快递一周没有更新物流信息",
        "contact_phone": "13800138000",
        "status": "open",
        "created_at": ticket["created_at"],
        "due_at": due_at.isoformat(),
        "rule": "complaint_24h",
        "evidence": [],
    }
    assert record == {
        "id": record["id"],
        "conversation_id": conversation_id,
        "kind": "complaint",
        "order_id": "A1002",
        "outcome": "created",
        "rule": "complaint_24h",
        "created_at": ticket["created_at"],
        "details": {"ticket_id": ticket_id, "channel": "wechat", "category": "logistics",
                    "due_at": due_at.isoformat(), "evidence_count": 0},
    }
    assert records_of(record_service, conversation_id) == [record]
    fetched = get(record_service, f"/api/complaints/{ticket_id}")
    assert fetched.status_code == 200
    assert fetched.json() == ticket


def test_complaint_keeps_its_pictures_in_order(record_service: RunningService) -> None:
    evidence = [
        {"kind": "image", "channel": "wechat", "media_id": "MEDIA_1", "url": "https://mmbiz.qpic.cn/a.jpg",
         "received_at": "2099-05-01T10:00:00+00:00"},
        {"kind": "image", "channel": "wechat", "media_id": "MEDIA_2", "url": None,
         "received_at": "2099-05-01T10:01:00+00:00"},
    ]
    body = {**complaint_body(new_id("conv")), "evidence": evidence}

    response = post(record_service, "/api/complaints", body, new_id("k"))

    assert response.status_code == 201
    ticket = response.json()["ticket"]
    assert ticket["evidence"] == evidence
    assert response.json()["record"]["details"]["evidence_count"] == 2
    assert get(record_service, f"/api/complaints/{ticket['ticket_id']}").json()["evidence"] == evidence


def test_complaint_due_at_in_another_zone_is_stored_in_utc(record_service: RunningService) -> None:
    due = in_hours(20).replace(microsecond=0)
    body = complaint_body(new_id("conv"))
    body["due_at"] = due.astimezone(timezone(timedelta(hours=8))).isoformat()  # e.g. ...T18:00:00+08:00

    response = post(record_service, "/api/complaints", body, new_id("k"))

    assert response.status_code == 201
    in_utc = due.astimezone(timezone.utc).isoformat()  # e.g. ...T10:00:00+00:00
    assert body["due_at"].endswith("+08:00") and in_utc.endswith("+00:00")
    assert response.json()["ticket"]["due_at"] == in_utc
    assert response.json()["record"]["details"]["due_at"] == in_utc


def test_complaint_replay_returns_the_same_ticket(record_service: RunningService) -> None:
    conversation_id = new_id("conv")
    key = new_id("k")
    body = complaint_body(conversation_id)

    first = post(record_service, "/api/complaints", body, key)
    second = post(record_service, "/api/complaints", body, key)

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json()
    assert len(records_of(record_service, conversation_id)) == 1


@pytest.mark.parametrize(
    ("changes", "expected_code"),
    [
        ({"category": "price"}, "invalid_category"),
        ({"description": ""}, "invalid_description"),
        ({"description": "   "}, "invalid_description"),
        ({"description": "字" * 2001}, "invalid_description"),
        ({"description": "bell\x07"}, "invalid_description"),
        ({"contact_phone": "call me"}, "invalid_contact_phone"),
        ({"contact_phone": 13800138000}, "invalid_contact_phone"),
        ({"channel": "WeChat"}, "invalid_channel"),
        ({"channel": None}, "invalid_channel"),
        ({"due_at": "2099-05-01T18:00:00"}, "invalid_due_at"),
        ({"due_at": "tomorrow"}, "invalid_due_at"),
        ({"due_at": 1714557600}, "invalid_due_at"),
        ({"due_at": "2000-01-01T00:00:00+00:00"}, "due_at_not_in_future"),
        ({"due_at": "2099-01-01T00:00:00+00:00"}, "due_at_beyond_24_hours"),
        ({"rule": None}, "invalid_rule"),
        ({"ticket_id": "TS1"}, "invalid_ticket_id"),
        ({"ticket_id": "HO24050112345678"}, "invalid_ticket_id"),
        ({"occurred_at": "yesterday"}, "invalid_occurred_at"),
        ({"surprise": 1}, "unknown_field"),
        ({"evidence": "photo.jpg"}, "invalid_evidence"),
        ({"evidence": [{"kind": "image", "channel": "wechat", "received_at": "2099-05-01T10:00:00+00:00"}]},
         "invalid_evidence"),
        ({"evidence": [{"kind": "video", "channel": "wechat", "media_id": "m1",
                        "received_at": "2099-05-01T10:00:00+00:00"}]}, "invalid_evidence"),
        ({"evidence": [{"kind": "image", "channel": "wechat", "url": "javascript:alert(1)",
                        "received_at": "2099-05-01T10:00:00+00:00"}]}, "invalid_evidence"),
        ({"evidence": [{"kind": "image", "channel": "wechat", "media_id": "m1", "received_at": "now"}]},
         "invalid_received_at"),
        ({"evidence": [{"kind": "image", "channel": "wechat", "media_id": "m", "size": 1,
                        "received_at": "2099-05-01T10:00:00+00:00"}]}, "unknown_field"),
        ({"evidence": [{"kind": "image", "channel": "wechat", "media_id": f"m{i}",
                        "received_at": "2099-05-01T10:00:00+00:00"} for i in range(10)]}, "invalid_evidence"),
    ],
)
def test_invalid_complaint_is_422_and_writes_nothing(
    record_service: RunningService, changes: dict[str, Any], expected_code: str
) -> None:
    conversation_id = new_id("conv")
    body = {**complaint_body(conversation_id), **changes}

    response = post(record_service, "/api/complaints", body, new_id("k"))

    assert response.status_code == 422
    assert error_code(response) == expected_code
    assert records_of(record_service, conversation_id) == []


def test_longest_complaint_description_is_accepted(record_service: RunningService) -> None:
    body = {**complaint_body(new_id("conv")), "description": "字" * 2000, "contact_phone": None,
            "order_id": None}

    response = post(record_service, "/api/complaints", body, new_id("k"))

    assert response.status_code == 201
    assert response.json()["ticket"]["description"] == "字" * 2000
    assert response.json()["ticket"]["contact_phone"] is None
    assert response.json()["record"]["order_id"] is None


# ---------------------------------------------------------------- handoffs


def test_handoff_creates_ticket_and_record_together(record_service: RunningService) -> None:
    conversation_id = new_id("conv")
    body = handoff_body(conversation_id)

    response = post(record_service, "/api/handoffs", body, new_id("k"))

    assert response.status_code == 201
    ticket, record = response.json()["ticket"], response.json()["record"]
    ticket_id = ticket["ticket_id"]
    assert ticket_id.startswith("HO") and len(ticket_id) == 16 and ticket_id[2:].isdigit()
    due_at = datetime.fromisoformat(body["due_at"]).isoformat()
    assert ticket == {
        "ticket_id": ticket_id,
        "conversation_id": conversation_id,
        "channel": "web",
        "order_id": "A1003",
        "reason": "overdue_refund",
        "priority": 5,
        "status": "queued",
        "created_at": ticket["created_at"],
        "due_at": due_at,
        "callback_at": None,
        "rule": "refund_deadline",
        "context": body["context"],
    }
    assert record == {
        "id": record["id"],
        "conversation_id": conversation_id,
        "kind": "handoff",
        "order_id": "A1003",
        "outcome": "queued",
        "rule": "refund_deadline",
        "created_at": ticket["created_at"],
        "details": {
            "ticket_id": ticket_id,
            "channel": "web",
            "reason": "overdue_refund",
            "priority": 5,
            "due_at": due_at,
            "callback_at": None,
            "context": body["context"],
        },
    }
    assert records_of(record_service, conversation_id) == [record]
    assert get(record_service, f"/api/handoffs/{ticket_id}").json() == ticket


def test_scheduled_callback_handoff(record_service: RunningService) -> None:
    conversation_id = new_id("conv")
    body = handoff_body(
        conversation_id,
        status="callback_scheduled",
        callback_at="2099-01-02T09:00:00+08:00",
        rule=None,
        order_id=None,
    )
    body["context"]["order_snapshot"] = None
    body["context"]["contact_masked"] = None

    response = post(record_service, "/api/handoffs", body, new_id("k"))

    assert response.status_code == 201
    assert response.json()["ticket"]["status"] == "callback_scheduled"
    assert response.json()["ticket"]["callback_at"] == "2099-01-02T01:00:00+00:00"
    record = records_of(record_service, conversation_id)[0]
    assert (record["outcome"], record["rule"], record["order_id"]) == ("callback_scheduled", None, None)
    assert record["details"]["callback_at"] == "2099-01-02T01:00:00+00:00"


def test_handoff_queue_by_priority_then_due_time(record_service: RunningService) -> None:
    conversation_id = new_id("queue")
    created = {}
    for name, priority, hours in [("low", 1, 1), ("high_late", 9, 5), ("high_soon", 9, 2), ("mid", 5, 1)]:
        body = handoff_body(conversation_id, priority=priority, due_at=in_hours(hours).isoformat())
        created[name] = post(record_service, "/api/handoffs", body, new_id("k")).json()["ticket"]["ticket_id"]
    scheduled = handoff_body(conversation_id, status="callback_scheduled", callback_at=in_hours(3).isoformat())
    post(record_service, "/api/handoffs", scheduled, new_id("k"))

    response = get(record_service, "/api/handoffs", status="queued", limit="500")

    assert response.status_code == 200
    mine = [t["ticket_id"] for t in response.json()["tickets"] if t["conversation_id"] == conversation_id]
    assert mine == [created["high_soon"], created["high_late"], created["mid"], created["low"]]
    assert all(ticket["status"] == "queued" for ticket in response.json()["tickets"])


def test_handoff_replay_returns_the_same_ticket(record_service: RunningService) -> None:
    conversation_id = new_id("conv")
    key = new_id("k")
    body = handoff_body(conversation_id)

    first = post(record_service, "/api/handoffs", body, key)
    second = post(record_service, "/api/handoffs", body, key)
    third = post(record_service, "/api/handoffs", {**body, "priority": 6}, key)

    assert (first.status_code, second.status_code, third.status_code) == (201, 200, 409)
    assert second.json() == first.json()
    assert len(records_of(record_service, conversation_id)) == 1


@pytest.mark.parametrize(
    ("changes", "expected_code"),
    [
        ({"reason": "angry"}, "invalid_reason"),
        ({"priority": "5"}, "invalid_priority"),
        ({"priority": True}, "invalid_priority"),
        ({"priority": 5.5}, "invalid_priority"),
        ({"priority": 101}, "invalid_priority"),
        ({"priority": -1}, "invalid_priority"),
        ({"status": "assigned"}, "invalid_status"),
        ({"status": "callback_scheduled", "callback_at": None}, "invalid_callback_at"),
        ({"callback_at": "soon"}, "invalid_callback_at"),
        ({"due_at": None}, "invalid_due_at"),
        ({"context": None}, "invalid_context"),
        ({"context": {"summary": "s", "transcript": "text", "slots": {}}}, "invalid_context"),
        ({"context": {"summary": "s", "transcript": [], "slots": []}}, "invalid_context"),
        ({"context": {"transcript": [], "slots": {}}}, "invalid_context"),
        ({"context": {"summary": "s", "transcript": [], "slots": {}, "extra": 1}}, "invalid_context"),
        (
            {"context": {"summary": "s", "transcript": [], "slots": {}, "contact_masked": "13800138000"}},
            "invalid_context",
        ),
        ({"rule": 7}, "invalid_rule"),
        ({"contact_phone": "call me"}, "invalid_contact_phone"),
        ({"contact_phone": 13800138000}, "invalid_contact_phone"),
    ],
)
def test_invalid_handoff_is_422_and_writes_nothing(
    record_service: RunningService, changes: dict[str, Any], expected_code: str
) -> None:
    conversation_id = new_id("conv")
    body = handoff_body(conversation_id, **changes)

    response = post(record_service, "/api/handoffs", body, new_id("k"))

    assert response.status_code == 422
    assert error_code(response) == expected_code
    assert records_of(record_service, conversation_id) == []


@pytest.mark.parametrize(
    ("params", "expected_code"),
    [({"status": "lost"}, "invalid_status"), ({"limit": "0"}, "invalid_limit"),
     ({"limit": "501"}, "invalid_limit"), ({"limit": "ten"}, "invalid_limit")],
)
def test_handoff_list_bad_query_is_422(
    record_service: RunningService, params: dict[str, str], expected_code: str
) -> None:
    response = get(record_service, "/api/handoffs", **params)

    assert response.status_code == 422
    assert error_code(response) == expected_code


# ---------------------------------------------------------------- unknown tickets


@pytest.mark.parametrize(
    ("path", "expected_code"),
    [
        ("/api/complaints/TS99010100000000", "complaint_not_found"),
        ("/api/complaints/nonsense", "complaint_not_found"),
        ("/api/complaints/HO24050112345678", "complaint_not_found"),
        ("/api/handoffs/HO99010100000000", "handoff_not_found"),
        ("/api/handoffs/%E5%B7%A5%E5%8D%95", "handoff_not_found"),
    ],
)
def test_unknown_ticket_is_404(record_service: RunningService, path: str, expected_code: str) -> None:
    response = get(record_service, path)

    assert response.status_code == 404
    assert error_code(response) == expected_code


def test_a_complaint_is_not_found_as_a_handoff(record_service: RunningService) -> None:
    ticket_id = post(record_service, "/api/complaints", complaint_body(new_id("conv")), new_id("k")).json()[
        "ticket"
    ]["ticket_id"]

    response = get(record_service, f"/api/handoffs/{ticket_id}")

    assert response.status_code == 404
    assert error_code(response) == "handoff_not_found"


def test_concurrent_retries_create_one_record(record_service: RunningService) -> None:
    conversation_id = new_id("conv")
    key = new_id("k")
    body = eligibility_record(conversation_id)

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(lambda _: post(record_service, "/api/records", body, key).status_code,
                                   range(8)))

    assert statuses == [200] * 7 + [201]
    assert len(records_of(record_service, conversation_id)) == 1
