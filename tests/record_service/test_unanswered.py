"""The unanswered-question log, its review, the listings by time and the report's figures,
against the real `python -m record_service` process with the desk's test agents.

Each test dates what it writes on a day of its own in the past (`occurred_at`), so that a
listing by time sees only that test's data.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import pytest
import requests

from tests.fixtures.desk import (
    LI_TOKEN,
    TIMEOUT_S,
    WANG_TOKEN,
    agent_headers,
    handoff_body,
    new_id,
    start_desk_service,
)
from tests.fixtures.fake_rasa import FakeRasa
from tests.fixtures.servers import RunningService

BEIJING = timezone(timedelta(hours=8))
_used_days: set[date] = set()


@pytest.fixture(scope="module")
def service(fake_rasa: FakeRasa, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    running = start_desk_service(
        tmp_path_factory.mktemp("unanswered"), "records.log",
        {"RECORDS_BOT_URL": fake_rasa.url, "RECORDS_BOT_TOKEN": fake_rasa.token},
    )
    yield running
    running.stop()


def a_day_of_its_own() -> date:
    """A past day no other test of this module writes on."""
    while True:
        day = date(2020, 1, 1) + timedelta(days=random.randrange(2000))
        if day not in _used_days:
            _used_days.add(day)
            return day


def at(day: date, hour: int) -> str:
    """A Beijing time on `day`, as ISO 8601."""
    return datetime.combine(day, time(hour), BEIJING).isoformat()


def day_range(day: date) -> dict[str, str]:
    return {"from": at(day, 0), "to": datetime.combine(day + timedelta(days=1), time(0), BEIJING).isoformat()}


def service_get(service: RunningService, path: str, **params: str) -> requests.Response:
    return requests.get(f"{service.url}{path}", params=params, headers=agent_headers(service.token),
                        timeout=TIMEOUT_S)


def desk(service: RunningService, method: str, path: str, body: Any = None, token: str = WANG_TOKEN,
         **params: str) -> requests.Response:
    return requests.request(method, f"{service.url}/desk/api{path}", json=body, params=params,
                            headers=agent_headers(token), timeout=TIMEOUT_S)


def write_record(service: RunningService, body: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(
        f"{service.url}/api/records", json=body,
        headers={**agent_headers(service.token), "Idempotency-Key": new_id("k")}, timeout=TIMEOUT_S,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def unanswered_body(conversation_id: str, text: str, occurred_at: str, outcome: str = "asked_to_rephrase") -> dict[str, Any]:
    """An unanswered-question record as the bot writes it (`bot/actions/unanswered.py`)."""
    return {
        "conversation_id": conversation_id,
        "kind": "unanswered",
        "order_id": None,
        "outcome": outcome,
        "rule": None,
        "details": {
            "text": text,
            "reason": "nlu_fallback",
            "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.3}, {"name": "chitchat", "confidence": 0.21}],
            "next": outcome,
            "channel": "widget",
        },
        "occurred_at": occurred_at,
    }


def eligibility_body(conversation_id: str, occurred_at: str) -> dict[str, Any]:
    return {
        "conversation_id": conversation_id, "kind": "return_eligibility", "order_id": "A1001",
        "outcome": "eligible", "rule": "no_reason_7d",
        "details": {"reason": "within_window", "shipping_paid_by": "consumer", "channel": "wechat"},
        "occurred_at": occurred_at,
    }


# ---------------------------------------------------------------- the log and its review


def test_a_logged_message_is_listed_masked_then_reviewed_and_re_reviewed(service: RunningService) -> None:
    day = a_day_of_its_own()
    # Written unmasked, as a faulty client might: the service masks it again.
    record = write_record(service, unanswered_body(new_id("c"), "这个杯子有没有粉色的 我电话13800138000", at(day, 10)))

    listed = service_get(service, "/api/unanswered", **day_range(day)).json()["messages"]
    assert [(m["id"], m["details"]["text"], m["review"]) for m in listed] == [
        (record["id"], "这个杯子有没有粉色的 我电话138****8000", None)
    ]
    pending = desk(service, "GET", "/unanswered", reviewed="false", limit="500").json()["messages"]
    assert record["id"] in [m["id"] for m in pending]

    reviewed = desk(service, "POST", f"/unanswered/{record['id']}/review", {"intent": "out_of_scope"})
    assert reviewed.status_code == 200, reviewed.text
    review = reviewed.json()["review"]
    assert (review["intent"], review["new_topic"], review["reviewed_by"]) == ("out_of_scope", None, "xiaowang")
    assert record["id"] not in [m["id"] for m in desk(service, "GET", "/unanswered", reviewed="false",
                                                             limit="500").json()["messages"]]

    again = desk(service, "POST", f"/unanswered/{record['id']}/review", {"new_topic": " 商品颜色咨询 "}, LI_TOKEN)
    assert again.status_code == 200
    only_reviewed = service_get(service, "/api/unanswered", reviewed="true", **day_range(day)).json()["messages"]
    assert [(m["review"]["intent"], m["review"]["new_topic"], m["review"]["reviewed_by"]) for m in only_reviewed] == [
        (None, "商品颜色咨询", "xiaoli")
    ]
    # The record itself is never changed by a review.
    assert service_get(service, "/api/records", conversation_id=record["conversation_id"]).json()["records"] == [
        {**record, "details": {**record["details"]}}
    ]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "invalid_review"),
        ({"intent": "request_return", "new_topic": "x"}, "invalid_review"),
        ({"intent": "Request Return"}, "invalid_intent"),
        ({"intent": 7}, "invalid_intent"),
        ({"new_topic": "   "}, "invalid_new_topic"),
        ({"new_topic": "x" * 65}, "invalid_new_topic"),
        ({"intent": "greet", "note": "?"}, "unknown_field"),
    ],
)
def test_a_malformed_review_is_refused(service: RunningService, body: dict[str, Any], code: str) -> None:
    record = write_record(service, unanswered_body(new_id("c"), "？？", at(a_day_of_its_own(), 9)))

    response = desk(service, "POST", f"/unanswered/{record['id']}/review", body)

    assert (response.status_code, response.json()["error"]["code"]) == (422, code)


def test_only_an_unanswered_message_can_be_reviewed(service: RunningService) -> None:
    other = write_record(service, eligibility_body(new_id("c"), at(a_day_of_its_own(), 9)))

    for path in (f"/unanswered/{other['id']}/review", "/unanswered/99999999999/review", "/unanswered/abc/review"):
        response = desk(service, "POST", path, {"intent": "greet"})
        assert (response.status_code, response.json()["error"]["code"]) == (404, "message_not_found"), path


# ---------------------------------------------------------------- listings by time


def test_records_of_a_time_range_come_in_pages_in_id_order(service: RunningService) -> None:
    day = a_day_of_its_own()
    written = [write_record(service, eligibility_body(new_id("c"), at(day, hour))) for hour in (15, 9, 12)]
    write_record(service, eligibility_body(new_id("c"), at(day + timedelta(days=1), 0)))  # the next day

    first = service_get(service, "/api/records", limit="2", **day_range(day)).json()
    second = service_get(service, "/api/records", limit="2", after_id=str(first["next_after_id"]),
                         **day_range(day)).json()

    assert [r["id"] for r in first["records"]] == [written[0]["id"], written[1]["id"]]
    assert first["next_after_id"] == written[1]["id"]
    assert ([r["id"] for r in second["records"]], second["next_after_id"]) == ([written[2]["id"]], None)


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"from": "2024-05-01T00:00:00+08:00"}, 400, "range_required"),
        ({"from": "2024-05-02T00:00:00+08:00", "to": "2024-05-01T00:00:00+08:00"}, 422, "invalid_range"),
        ({"from": "2024-01-01T00:00:00+08:00", "to": "2025-06-01T00:00:00+08:00"}, 422, "invalid_range"),
        ({"from": "yesterday", "to": "2024-05-01T00:00:00+08:00"}, 422, "invalid_from"),
        ({"from": "2024-05-01T00:00:00", "to": "2024-05-02T00:00:00+08:00"}, 422, "invalid_from"),
        ({"from": "2024-05-01T00:00:00Z", "to": "2024-05-02T00:00:00Z", "limit": "0"}, 422, "invalid_limit"),
        ({"from": "2024-05-01T00:00:00Z", "to": "2024-05-02T00:00:00Z", "after_id": "-1"}, 422, "invalid_after_id"),
    ],
)
def test_a_bad_time_range_is_refused(service: RunningService, params: dict[str, str], status: int, code: str) -> None:
    for path in ("/api/records", "/api/complaints", "/api/unanswered"):
        if path != "/api/records" and ("limit" in params or "after_id" in params):
            continue
        response = service_get(service, path, **params)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), path


def test_handoffs_of_a_time_range_say_when_a_person_claimed_them(service: RunningService) -> None:
    day = a_day_of_its_own()
    body = handoff_body(new_id("c"), occurred_at=at(day, 11),
                        due_at=datetime.combine(day, time(13), BEIJING).isoformat())
    response = requests.post(f"{service.url}/api/handoffs", json=body,
                             headers={**agent_headers(service.token), "Idempotency-Key": new_id("k")},
                             timeout=TIMEOUT_S)
    assert response.status_code == 201, response.text
    ticket_id = response.json()["ticket"]["ticket_id"]

    before = service_get(service, "/api/handoffs", **day_range(day)).json()["tickets"]
    assert [(t["ticket_id"], t["claimed_at"], t["resolution"]) for t in before] == [(ticket_id, None, None)]
    assert "context" not in before[0]

    assert desk(service, "POST", f"/tickets/{ticket_id}/claim").status_code == 200
    after = service_get(service, "/api/handoffs", **day_range(day)).json()["tickets"]
    assert after[0]["claimed_at"] is not None


def test_complaints_of_a_time_range_are_listed_without_description_or_phone(service: RunningService) -> None:
    day = a_day_of_its_own()
    body = {
        "conversation_id": new_id("c"), "channel": "wechat", "order_id": "A1002", "category": "logistics",
        "description": "快递一周没有更新", "contact_phone": "13800138000",
        "due_at": datetime.combine(day + timedelta(days=1), time(10), BEIJING).isoformat(),
        "rule": "complaint_24h", "occurred_at": at(day, 10),
    }
    response = requests.post(f"{service.url}/api/complaints", json=body,
                             headers={**agent_headers(service.token), "Idempotency-Key": new_id("k")},
                             timeout=TIMEOUT_S)
    assert response.status_code == 201, response.text

    tickets = service_get(service, "/api/complaints", **day_range(day)).json()["tickets"]

    assert [(t["category"], t["status"], t["channel"]) for t in tickets] == [("logistics", "open", "wechat")]
    assert "contact_phone" not in tickets[0] and "description" not in tickets[0]


# ---------------------------------------------------------------- the report in the workspace


def test_the_workspace_report_counts_the_day_s_records(service: RunningService) -> None:
    day = a_day_of_its_own()
    served = new_id("c")
    write_record(service, eligibility_body(served, at(day, 9)))
    write_record(service, unanswered_body(new_id("c"), "啊啊啊", at(day, 10)))
    write_record(service, unanswered_body(new_id("c"), "啊啊啊", at(day, 11), "offered_tasks"))

    response = desk(service, "GET", "/report", **{"from": day.isoformat(), "to": day.isoformat()})

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["period"]["first_day"] == day.isoformat()
    assert report["conversations"]["total"] == 3
    assert report["self_service"]["numerator"] == 3
    assert [(q["text"], q["count"]) for q in report["unanswered"]["top"]] == [("啊啊啊", 2)]


@pytest.mark.parametrize(
    "params",
    [{}, {"from": "2024-05-01"}, {"from": "2024-5-1", "to": "2024-05-02"}, {"from": "2024-05-02", "to": "2024-05-01"},
     {"from": "2020-01-01", "to": "2024-01-01"}, {"from": "2024-05-01T00:00:00", "to": "2024-05-02"},
     {"from": "9999-12-31", "to": "9999-12-31"}],
)
def test_a_bad_report_period_is_refused(service: RunningService, params: dict[str, str]) -> None:
    response = desk(service, "GET", "/report", **params)

    assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_period")
