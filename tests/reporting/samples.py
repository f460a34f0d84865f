"""Builders of the record service's JSON items for the report's tests, and one busy period."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from reporting.figures import Period

PERIOD = Period.parse("2026-12-01", "2026-12-07")
NOW = datetime(2026, 12, 8, 2, 0, tzinfo=timezone.utc)  # 2026-12-08 10:00 in Beijing
HOSTILE_TEXT = "<script>alert(1)</script>"
URL_TEXT = "看这个链接 https://example.com/order?id=1"


def record(
    record_id: int,
    conversation_id: str,
    kind: str,
    outcome: str,
    created_at: str,
    *,
    rule: str | None = None,
    **details: Any,
) -> dict[str, Any]:
    """A service record as GET /api/records serves it."""
    return {
        "id": record_id,
        "conversation_id": conversation_id,
        "kind": kind,
        "order_id": None,
        "outcome": outcome,
        "rule": rule,
        "created_at": created_at,
        "details": details,
    }


def complaint(
    ticket_id: str,
    conversation_id: str,
    created_at: str,
    due_at: str,
    *,
    category: str = "logistics",
    status: str = "open",
    channel: str | None = "wechat",
) -> dict[str, Any]:
    """A complaint ticket as GET /api/complaints serves it."""
    return {
        "ticket_id": ticket_id,
        "conversation_id": conversation_id,
        "channel": channel,
        "order_id": "E20261201001",
        "category": category,
        "status": status,
        "created_at": created_at,
        "due_at": due_at,
        "rule": "complaint.reply_within_24h",
    }


def handoff_ticket(
    ticket_id: str,
    conversation_id: str,
    created_at: str,
    due_at: str,
    *,
    channel: str | None = "wechat",
    status: str = "queued",
    claimed_at: str | None = None,
    resolved_at: str | None = None,
) -> dict[str, Any]:
    """A handoff ticket as GET /api/handoffs serves it."""
    return {
        "ticket_id": ticket_id,
        "conversation_id": conversation_id,
        "channel": channel,
        "order_id": None,
        "reason": "user_request",
        "priority": "normal",
        "status": status,
        "created_at": created_at,
        "due_at": due_at,
        "callback_at": None,
        "rule": "handoff.claim_within_30_min",
        "claimed_at": claimed_at,
        "resolved_at": resolved_at,
        "resolution": "resolved" if resolved_at else None,
    }


def unanswered(
    message_id: int,
    conversation_id: str,
    created_at: str,
    text: str,
    *,
    reason: str = "nlu_fallback",
    next_step: str = "asked_to_rephrase",
    channel: str = "wechat",
) -> dict[str, Any]:
    """An unanswered message as GET /api/unanswered serves it."""
    return {
        "id": message_id,
        "conversation_id": conversation_id,
        "created_at": created_at,
        "outcome": "recorded",
        "details": {
            "channel": channel,
            "text": text,
            "reason": reason,
            "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.31}],
            "next": next_step,
        },
        "review": None,
    }


def busy_inputs() -> dict[str, list[dict[str, Any]]]:
    """A period with something in every figure, a hostile question and one with a URL."""
    records = [
        record(1, "c1", "identity_check", "verified", "2026-12-01T02:00:00+00:00", channel="wechat"),
        record(2, "c1", "return_eligibility", "not_eligible", "2026-12-01T02:01:00+00:00",
               rule="return.window_7_days", reason="过了 7 天无理由退货期", channel="wechat"),
        record(3, "c2", "refund_status", "overdue", "2026-12-02T03:00:00+00:00",
               refund_id="RF1", due_by="2026-12-01T00:00:00+00:00", channel="rest"),
        record(4, "c2", "handoff", "queued", "2026-12-02T03:01:00+00:00", reason="overdue_refund",
               ticket_id="H1", priority="high", context={"intent": "ask_refund_status"}, channel="rest"),
        record(5, "c3", "complaint", "created", "2026-12-03T16:30:00+00:00",
               ticket_id="K1", category="logistics", channel="widget"),
        record(6, "c3", "satisfaction", "rated", "2026-12-03T16:40:00+00:00", rating=2, channel="widget"),
        record(7, "c4", "return_eligibility", "eligible", "2026-12-05T08:00:00+00:00",
               rule="return.window_7_days", reason="7 天内", channel="ivr"),
        record(8, "c4", "refund_status", "completed", "2026-12-05T08:05:00+00:00", refund_id="RF2"),
        record(9, "c4", "satisfaction", "rated", "2026-12-05T08:10:00+00:00", rating=5, channel="ivr"),
        record(10, "c5", "refund_status", "none", "2026-12-06T09:00:00+00:00", channel="wecom"),
        record(11, "c5", "satisfaction", "not_rated", "2026-12-06T09:05:00+00:00", rating=None),
    ]
    complaints = [
        complaint("K1", "c3", "2026-12-03T16:30:00+00:00", "2026-12-04T16:30:00+00:00", channel="widget"),
    ]
    handoffs = [
        handoff_ticket("H1", "c2", "2026-12-02T03:01:00+00:00", "2026-12-02T03:31:00+00:00", channel="rest",
                       status="resolved", claimed_at="2026-12-02T03:06:00+00:00",
                       resolved_at="2026-12-02T03:20:00+00:00"),
    ]
    messages = [
        unanswered(101, "c6", "2026-12-04T01:00:00+00:00", HOSTILE_TEXT),
        unanswered(102, "c6", "2026-12-04T01:01:00+00:00", URL_TEXT, reason="out_of_scope",
                   next_step="answered_out_of_scope"),
        unanswered(103, "c7", "2026-12-06T12:00:00+00:00", "能 开发票吗", channel="wecom"),
    ]
    return {"records": records, "complaints": complaints, "handoffs": handoffs, "unanswered": messages}
