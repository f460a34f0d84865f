"""The report's figures from hand-built record service items, with exact numbers."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from typing import Any

import pytest

from reporting.figures import FIGURE_NAMES, Period, compute_report
from tests.reporting.samples import NOW, PERIOD, complaint, handoff_ticket, record, unanswered


def report_json(
    records: list | None = None,
    complaints: list | None = None,
    handoffs: list | None = None,
    messages: list | None = None,
) -> dict:
    report = compute_report(PERIOD, records or [], complaints or [], handoffs or [], messages or [], NOW)
    return report.to_json()


def test_a_period_is_whole_beijing_days() -> None:
    period = Period.parse("2026-12-01", "2026-12-07")

    assert period.first_day == date(2026, 12, 1)
    assert period.last_day == date(2026, 12, 7)
    assert period.start_utc() == datetime(2026, 11, 30, 16, 0, tzinfo=timezone.utc)
    assert period.end_utc() == datetime(2026, 12, 7, 16, 0, tzinfo=timezone.utc)
    assert period.start_utc().isoformat() == "2026-11-30T16:00:00+00:00"
    assert len(period.days()) == 7
    assert Period.parse("2026-12-04", "2026-12-04").day_count == 1


@pytest.mark.parametrize("text", ["2026-12-1", "2026/12/01", "2026-02-30", "", "tomorrow", "2026-12-01T00:00"])
def test_a_malformed_day_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a date in the form YYYY-MM-DD"):
        Period.parse(text, "2026-12-31")


def test_a_period_ending_on_the_last_day_of_the_calendar_is_refused() -> None:
    with pytest.raises(ValueError, match="the period must end before 9999-12-31"):
        Period.parse("9999-12-31", "9999-12-31")


def test_a_period_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="the period starts after it ends: 2026-12-07 is after 2026-12-01"):
        Period.parse("2026-12-07", "2026-12-01")


def test_a_period_of_more_than_366_days_is_refused_and_a_leap_year_is_not() -> None:
    assert Period.parse("2028-01-01", "2028-12-31").day_count == 366

    with pytest.raises(ValueError, match="the period spans 367 days; at most 366 are allowed"):
        Period.parse("2026-01-01", "2027-01-02")


def test_conversations_count_on_the_beijing_day_and_channel_of_their_first_item() -> None:
    records = [
        # 16:30 UTC on the 3rd is 00:30 on the 4th in Beijing; an older record names no channel
        record(1, "c1", "identity_check", "verified", "2026-12-03T16:30:00+00:00"),
        record(2, "c2", "identity_check", "verified", "2026-12-03T15:59:00+00:00", channel="rest"),
        record(3, "c4", "satisfaction", "not_rated", "2026-12-06T01:00:00+00:00", rating=None),
        record(4, "c5", "identity_check", "verified", "2026-11-30T15:59:59+00:00", channel="rest"),  # 11-30
        record(5, "c6", "identity_check", "verified", "2026-12-07T16:00:00+00:00", channel="rest"),  # 12-08
        record(6, "c7", "greeting", "said", "2026-12-02T01:00:00+00:00", channel="rest"),  # unknown kind
        record(7, "c8", "identity_check", "verified", "2026-11-29T01:00:00+00:00", channel="rest"),
        record(8, "c8", "identity_check", "failed", "2026-12-02T01:00:00+00:00", channel="widget"),
        record(9, "c1", "handoff", "queued", "2026-12-04T05:00:00+00:00", channel="wecom", reason="urgent"),
    ]
    complaints = [complaint("K1", "c1", "2026-12-04T02:00:00+00:00", "2026-12-05T02:00:00+00:00", channel="wechat")]
    handoffs = [handoff_ticket("H1", "c3", "2026-12-05T02:00:00+00:00", "2026-12-05T02:30:00+00:00", channel="wecom")]
    messages = [unanswered(1, "c3", "2026-12-05T01:00:00+00:00", "在吗", channel="ivr")]

    figure = report_json(records, complaints, handoffs, messages)["conversations"]

    assert figure["total"] == 5
    assert figure["channels"] == ["rest", "wechat", "widget", "ivr", "unknown"]
    assert figure["by_channel"] == {"rest": 1, "wechat": 1, "widget": 1, "ivr": 1, "unknown": 1}
    zeros = {"rest": 0, "wechat": 0, "widget": 0, "ivr": 0, "unknown": 0}
    assert figure["per_day"] == {
        "2026-12-01": {"total": 0, "by_channel": zeros},
        "2026-12-02": {"total": 1, "by_channel": {**zeros, "widget": 1}},
        "2026-12-03": {"total": 1, "by_channel": {**zeros, "rest": 1}},
        "2026-12-04": {"total": 1, "by_channel": {**zeros, "wechat": 1}},
        "2026-12-05": {"total": 1, "by_channel": {**zeros, "ivr": 1}},
        "2026-12-06": {"total": 1, "by_channel": {**zeros, "unknown": 1}},
        "2026-12-07": {"total": 0, "by_channel": zeros},
    }
    assert "不会写入记录服务" in figure["how"]
    assert "只打了个招呼" in figure["how"]


def test_conversation_ids_are_counted_exactly_as_written() -> None:
    # Rasa keeps " a" and "a" apart, and a blank id is an id (the record service accepts it).
    records = [
        record(1, "a", "identity_check", "verified", "2026-12-04T01:00:00+00:00", channel="rest"),
        record(2, " a", "identity_check", "verified", "2026-12-04T01:00:00+00:00", channel="rest"),
        record(3, " ", "identity_check", "verified", "2026-12-04T01:00:00+00:00", channel="rest"),
        record(4, "", "identity_check", "verified", "2026-12-04T01:00:00+00:00", channel="rest"),
    ]

    assert report_json(records)["conversations"]["total"] == 3


def test_self_service_and_handoff_rates_count_handoff_records_and_tickets() -> None:
    records = [
        record(1, "a", "handoff", "queued", "2026-12-02T01:00:00+00:00", reason="urgent", ticket_id="H1"),
        record(2, "c", "identity_check", "verified", "2026-12-02T01:00:00+00:00"),
        record(3, "d", "satisfaction", "rated", "2026-12-02T01:00:00+00:00", rating=5),
        record(4, "e", "handoff", "queued", "2026-11-20T01:00:00+00:00", reason="urgent"),  # outside
    ]
    handoffs = [handoff_ticket("H2", "b", "2026-12-03T01:00:00+00:00", "2026-12-03T01:30:00+00:00")]

    data = report_json(records, handoffs=handoffs)

    assert data["self_service"] | {"how": ""} == {"how": "", "numerator": 2, "denominator": 4, "rate": 0.5}
    assert data["handoffs"]["numerator"] == 2
    assert data["handoffs"]["denominator"] == 4
    assert data["handoffs"]["rate"] == 0.5
    assert data["handoffs"]["handoffs"] == 1  # the reasons count handoff records only


def test_handoff_reasons_by_channel_and_intent() -> None:
    def handoff(record_id: int, created_at: str = "2026-12-02T01:00:00+00:00", **details: Any) -> dict:
        return record(record_id, f"c{record_id}", "handoff", "queued", created_at, **details)

    records = [
        handoff(1, reason="urgent", channel="wechat", ticket_id="T1", context={"intent": "ask_refund_status"}),
        handoff(2, reason="urgent", ticket_id="T2"),  # no channel: its ticket's; no context
        handoff(3, reason="user_request", ticket_id="T-gone", context={"intent": "request_human"}),
        handoff(4, reason="urgent", channel="wechat", ticket_id="T4", context={"intent": "ask_refund_status"}),
        handoff(5, channel="rest", context={}),  # no reason
        handoff(6, "2026-12-08T01:00:00+00:00", reason="urgent", channel="rest"),  # outside
    ]
    tickets = [handoff_ticket("T2", "c2", "2026-12-02T01:00:00+00:00", "2026-12-02T01:30:00+00:00", channel="ivr")]

    figure = report_json(records, handoffs=tickets)["handoffs"]

    assert figure["handoffs"] == 5
    assert figure["by_reason"] == {
        "user_request": 1, "beyond_authority": 0, "repeated_failure": 0, "urgent": 3, "overdue_refund": 0,
        "system_error": 0, "other": 0, "unknown": 1,
    }
    assert figure["by_reason_channel"] == [
        {"reason": "urgent", "channel": "wechat", "count": 2},
        {"reason": "unknown", "channel": "rest", "count": 1},
        {"reason": "urgent", "channel": "ivr", "count": 1},
        {"reason": "user_request", "channel": "unknown", "count": 1},
    ]
    assert figure["by_reason_intent"] == [
        {"reason": "urgent", "intent": "ask_refund_status", "count": 2},
        {"reason": "unknown", "intent": "unknown", "count": 1},
        {"reason": "urgent", "intent": "unknown", "count": 1},
        {"reason": "user_request", "intent": "request_human", "count": 1},
    ]


def test_complaint_tickets_by_category_acceptance_and_overdue() -> None:
    tickets = [
        complaint("K1", "a", "2026-12-02T00:00:00+00:00", "2026-12-03T00:00:00+00:00", category="product_quality"),
        complaint("K2", "b", "2026-12-02T00:00:00+00:00", "2026-12-03T00:00:00+00:00", status="replied"),
        complaint("K3", "c", "2026-12-06T00:00:00+00:00", "2026-12-08T00:00:00+00:00"),  # 48 h, past due
        complaint("K4", "d", "2026-12-07T10:00:00+00:00", "2026-12-08T10:00:00+00:00", category="merchant"),
        complaint("K5", "e", "2026-11-20T00:00:00+00:00", "2026-11-21T00:00:00+00:00"),  # outside
    ]

    figure = report_json(complaints=tickets)["complaints"]

    assert figure["total"] == 4
    assert figure["by_category"] == {
        "product_quality": 1, "service_attitude": 0, "logistics": 2, "system_failure": 0, "merchant": 1, "other": 0,
    }
    assert figure["accepted_within_24h"] == 3
    assert figure["accepted_within_24h_rate"] == 0.75
    assert figure["overdue"] == 2  # K1 and K3: open and due before NOW (2026-12-08T02:00Z)
    assert figure["open"] == 3
    assert figure["not_open"] == 1
    assert "24 小时" in figure["how"]


def test_first_response_of_handoff_tickets() -> None:
    created = "2026-12-02T00:00:00+00:00"
    due = "2026-12-02T00:30:00+00:00"
    tickets = [
        handoff_ticket("T1", "a", created, due, status="assigned", claimed_at="2026-12-02T00:04:00+00:00"),
        handoff_ticket("T2", "b", created, due, status="assigned", claimed_at="2026-12-02T00:10:00+00:00"),
        handoff_ticket("T3", "c", created, due, status="resolved", claimed_at="2026-12-02T00:02:00+00:00",
                       resolved_at="2026-12-02T00:20:00+00:00"),
        handoff_ticket("T4", "d", created, due, status="assigned", claimed_at="2026-12-02T01:00:00+00:00"),
        handoff_ticket("T5", "e", created, due),  # waiting past its due time
        handoff_ticket("T6", "f", created, due, status="resolved", resolved_at="2026-12-02T00:20:00+00:00"),
        handoff_ticket("T7", "g", created, "2026-12-09T00:00:00+00:00"),  # waiting, not yet due
        handoff_ticket("T8", "h", "2026-11-20T00:00:00+00:00", "2026-11-20T00:30:00+00:00",
                       claimed_at="2026-11-20T09:00:00+00:00"),  # outside
    ]

    figure = report_json(handoffs=tickets)["first_response"]

    assert figure | {"how": ""} == {
        "how": "",
        "tickets": 7,
        "claimed": 4,
        "unclaimed": 3,
        "median_minutes": 7.0,  # of 2, 4, 10, 60
        "p90_minutes": 60.0,  # nearest rank: the 4th of 4
        "claimed_before_due": 3,
        "claimed_after_due": 1,
        "overdue_waiting": 1,
    }


def test_first_response_p90_is_the_nearest_rank() -> None:
    tickets = [
        handoff_ticket(f"T{minute}", f"c{minute}", "2026-12-02T00:00:00+00:00", "2026-12-02T00:30:00+00:00",
                       claimed_at=f"2026-12-02T00:{minute:02d}:00+00:00")
        for minute in range(1, 11)
    ]

    figure = report_json(handoffs=tickets)["first_response"]

    assert figure["median_minutes"] == 5.5
    assert figure["p90_minutes"] == 9.0  # the 9th of 10, not the 10th


def test_refunds_count_the_latest_record_of_each_refund() -> None:
    def refund(record_id: int, outcome: str, created_at: str, **details: Any) -> dict:
        return record(record_id, "c", "refund_status", outcome, created_at, **details)

    records = [
        refund(1, "overdue", "2026-12-02T01:00:00+00:00", refund_id="R1"),
        refund(2, "completed", "2026-12-04T01:00:00+00:00", refund_id="R1"),
        refund(21, "overdue", "2026-12-05T01:00:00+00:00", refund_id="R2"),  # same time, written later
        refund(20, "on_time", "2026-12-05T01:00:00+00:00", refund_id="R2"),
        refund(3, "on_time", "2026-12-03T01:00:00+00:00", refund_id="R3"),
        refund(4, "completed", "2026-12-09T01:00:00+00:00", refund_id="R3"),  # after the period
        refund(5, "overdue", "2026-12-06T01:00:00+00:00", refund_id="R4"),
        refund(6, "none", "2026-12-06T02:00:00+00:00"),
        refund(7, "none", "2026-12-06T03:00:00+00:00", refund_id=None),
    ]

    figure = report_json(records)["refunds"]

    assert figure | {"how": ""} == {
        "how": "",
        "refunds": 4,
        "by_outcome": {"completed": 1, "on_time": 1, "overdue": 2},
        "no_refund_found": 2,
        "overdue_rate": 0.5,
    }


def test_return_decisions_by_rule_and_outcome_most_first() -> None:
    def decision(record_id: int, outcome: str, rule: str | None, created_at: str = "2026-12-02T01:00:00+00:00"):
        return record(record_id, "c", "return_eligibility", outcome, created_at, rule=rule)

    records = [
        *(decision(number, "not_eligible", "return.window_7_days") for number in range(1, 4)),
        *(decision(number, "eligible", "return.window_7_days") for number in range(4, 6)),
        *(decision(number, "not_eligible", "return.opened_hygiene") for number in range(6, 8)),
        decision(8, "eligible", None),
        decision(9, "eligible", "return.window_7_days", "2026-12-08T01:00:00+00:00"),  # outside
    ]

    figure = report_json(records)["return_decisions"]

    assert figure["total"] == 8
    assert figure["decisions"] == [
        {"rule": "return.window_7_days", "outcome": "not_eligible", "count": 3},
        {"rule": "return.opened_hygiene", "outcome": "not_eligible", "count": 2},
        {"rule": "return.window_7_days", "outcome": "eligible", "count": 2},
        {"rule": "unknown", "outcome": "eligible", "count": 1},
    ]


def test_satisfaction_distribution_rate_and_average() -> None:
    def rating(record_id: int, outcome: str, value: object) -> dict:
        return record(record_id, "c", "satisfaction", outcome, "2026-12-02T01:00:00+00:00", rating=value)

    records = [
        rating(1, "rated", 5), rating(2, "rated", 5), rating(3, "rated", 4), rating(4, "rated", 3),
        rating(5, "rated", 1), rating(6, "not_rated", None), rating(7, "not_rated", None),
        rating(8, "rated", None), rating(9, "rated", True), rating(10, "rated", 7),  # not ratings
    ]

    figure = report_json(records)["satisfaction"]

    assert figure | {"how": ""} == {
        "how": "",
        "distribution": {"1": 1, "2": 0, "3": 1, "4": 1, "5": 2},
        "rated": 5,
        "not_rated": 2,
        "satisfied": 3,
        "rate": 0.6,
        "average": 3.6,
    }


def test_top_20_unanswered_questions_most_asked_then_most_recent() -> None:
    messages = [
        unanswered(1, "a", "2026-12-02T01:00:00+00:00", "能 开发票吗"),
        unanswered(2, "b", "2026-12-03T01:00:00+00:00", "  能   开发票吗 "),
        unanswered(3, "c", "2026-12-03T02:00:00+00:00", "能\n开发票吗"),
        unanswered(4, "d", "2026-11-30T01:00:00+00:00", "能 开发票吗"),  # outside
        unanswered(5, "e", "2026-12-05T01:00:00+00:00", "可以改地址吗", reason="out_of_scope",
                   next_step="answered_out_of_scope"),
        unanswered(6, "f", "2026-12-05T02:00:00+00:00", "可以改地址吗", reason="out_of_scope",
                   next_step="answered_out_of_scope"),
        unanswered(7, "g", "2026-12-04T01:00:00+00:00", "可以改地址吗", next_step="offered_tasks"),
        unanswered(8, "h", "2026-12-04T01:00:00+00:00", "   ", reason="out_of_scope", next_step="handed_over"),
        *(
            unanswered(100 + number, f"s{number}", f"2026-12-01T00:{number:02d}:00+00:00", f"问题 {number:02d}")
            for number in range(1, 23)
        ),
    ]

    figure = report_json(messages=messages)["unanswered"]

    assert figure["total"] == 29
    assert figure["distinct_questions"] == 24
    assert len(figure["top"]) == 20
    assert figure["top"][:2] == [
        {"text": "可以改地址吗", "count": 3, "last_seen": "2026-12-05T10:00:00+08:00", "reason": "out_of_scope"},
        {"text": "能 开发票吗", "count": 3, "last_seen": "2026-12-03T10:00:00+08:00", "reason": "nlu_fallback"},
    ]
    assert [question["text"] for question in figure["top"][2:]] == [f"问题 {n:02d}" for n in range(22, 4, -1)]
    assert figure["by_reason"] == {"nlu_fallback": 26, "out_of_scope": 3}
    assert figure["by_next"] == {
        "asked_to_rephrase": 25, "offered_tasks": 1, "handed_over": 1, "answered_out_of_scope": 2,
    }


def test_zero_denominators_give_none_and_junk_is_ignored() -> None:
    junk: list = ["not an object", {"kind": "refund_status", "created_at": "yesterday"}, {"created_at": None}]

    data = report_json(junk, junk, junk, junk)

    assert data["conversations"]["total"] == 0
    assert data["conversations"]["per_day"]["2026-12-07"] == {"total": 0, "by_channel": {}}
    assert data["self_service"]["rate"] is None
    assert data["handoffs"]["rate"] is None
    assert data["complaints"]["accepted_within_24h_rate"] is None
    assert data["first_response"]["median_minutes"] is None
    assert data["first_response"]["p90_minutes"] is None
    assert data["refunds"]["overdue_rate"] is None
    assert data["satisfaction"]["rate"] is None
    assert data["satisfaction"]["average"] is None
    assert data["unanswered"]["top"] == []


def test_the_report_as_json() -> None:
    data = report_json()

    assert list(data) == ["period", "generated_at", *FIGURE_NAMES]
    assert data["period"] == {
        "first_day": "2026-12-01",
        "last_day": "2026-12-07",
        "start": "2026-11-30T16:00:00+00:00",
        "end": "2026-12-07T16:00:00+00:00",
        "time_zone": "Asia/Shanghai",
    }
    assert data["generated_at"] == "2026-12-08T10:00:00+08:00"
    assert all(data[name]["how"] for name in FIGURE_NAMES)
    assert json.loads(json.dumps(data)) == data
