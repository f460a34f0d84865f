"""Checking what callers send before it reaches the database.

Every check raises `ApiError` with a stable code, so that no input, however malformed,
ends as a 500: strings are length-limited, free of control characters and encodable as
UTF-8 (lone surrogates decoded from JSON are not), numbers are finite and fit in 64 bits,
JSON trees are not nested absurdly deep, and times carry a time zone.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from record_service.models import (
    COMPLAINT_CATEGORIES,
    CONTRACT_OUTCOMES,
    HANDOFF_REASONS,
    HANDOFF_STATUSES,
    NEW_HANDOFF_STATUSES,
)
from record_service.repository import Evidence, HandoffContext, NewComplaint, NewHandoff, NewRecord
from reporting.period import Period
from service_common.http import ApiError
from service_common.tickets import (
    COMPLAINT_PREFIX,
    HANDOFF_PREFIX,
    TICKET_ID_PATTERN,
    TicketPrefix,
    is_ticket_id,
)

MAX_CONVERSATION_ID_CHARS = 128
MAX_ORDER_ID_CHARS = 64
MAX_OUTCOME_CHARS = 64
MAX_RULE_CHARS = 128
MAX_DESCRIPTION_CHARS = 2000
MAX_SUMMARY_CHARS = 2000
MAX_CONTACT_MASKED_CHARS = 32
MAX_JSON_DEPTH = 32
MIN_PRIORITY = 0
MAX_PRIORITY = 100
DEFAULT_TICKET_LIMIT = 100
MAX_TICKET_LIMIT = 500
MAX_REPLY_CHARS = 2000
DESK_DEFAULT_STATUSES = ("queued", "assigned", "callback_scheduled")
DELIVERY_STATUSES = ("pending", "delivered", "failed")
DEFAULT_PAGE_LIMIT = 1000
MAX_PAGE_LIMIT = 1000
# A listing by time covers at most this many days (a year's report and some margin).
MAX_RANGE_DAYS = 400
MAX_TOPIC_CHARS = 64

_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
_KIND = re.compile(r"[a-z_]{1,40}")
_CHANNEL = re.compile(r"[a-z][a-z0-9_]{0,31}")
_CONTACT_PHONE = re.compile(r"\+?[0-9][0-9 -]{4,30}")
_LIMIT = re.compile(r"[0-9]{1,4}")
_RECORD_ID = re.compile(r"[0-9]{1,18}")
_INTENT = re.compile(r"[a-z][a-z0-9_]{0,63}")
_DELIVERY_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Identifiers and one-line values: no control characters at all.
_ANY_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
# Free text and JSON strings may contain tabs and line breaks, nothing else of the kind.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A full mainland mobile number: what a masked contact must not contain.
_FULL_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_INT64 = 2**63

_RECORD_FIELDS = frozenset(
    {"conversation_id", "kind", "order_id", "outcome", "rule", "details", "occurred_at"}
)
_COMPLAINT_FIELDS = frozenset(
    {
        "conversation_id",
        "channel",
        "order_id",
        "category",
        "description",
        "contact_phone",
        "due_at",
        "rule",
        "evidence",
        "ticket_id",
        "occurred_at",
    }
)
_EVIDENCE_FIELDS = frozenset({"kind", "channel", "media_id", "url", "received_at"})
EVIDENCE_KINDS = ("image",)
MAX_EVIDENCE_ITEMS = 9
MAX_MEDIA_ID_CHARS = 128
MAX_EVIDENCE_URL_CHARS = 1024
_EVIDENCE_URL = re.compile(r"https?://[^\s]+")
_HANDOFF_FIELDS = frozenset(
    {
        "conversation_id",
        "channel",
        "order_id",
        "reason",
        "priority",
        "status",
        "due_at",
        "callback_at",
        "rule",
        "context",
        "contact_phone",
        "ticket_id",
        "occurred_at",
    }
)
_CONTEXT_FIELDS = frozenset({"summary", "transcript", "slots", "order_snapshot", "contact_masked", "intent"})
_FIELD_NAME = re.compile(r"[A-Za-z0-9_]{1,40}")


def idempotency_key(value: str | None) -> str:
    """The Idempotency-Key header of a creating request (400 when missing or malformed)."""
    if not value:
        raise ApiError(400, "idempotency_key_required", "the Idempotency-Key header is required")
    if not _IDEMPOTENCY_KEY.fullmatch(value):
        raise ApiError(
            400,
            "invalid_idempotency_key",
            "Idempotency-Key must be 1-100 characters of A-Z, a-z, 0-9, '_', '.', ':' and '-'",
        )
    return value


def conversation_query(value: str | None) -> str:
    """The `conversation_id` query parameter (400 when missing, 422 when malformed)."""
    if value is None or value == "":
        raise ApiError(400, "conversation_id_required", "the conversation_id parameter is required")
    return _conversation_id(value)


def ticket_id(value: str, not_found_code: str) -> str:
    """A ticket id taken from the path; one that cannot exist is simply not found (404)."""
    if not TICKET_ID_PATTERN.fullmatch(value):
        raise ApiError(404, not_found_code, "no such ticket")
    return value


def time_range_query(start: str | None, end: str | None) -> tuple[datetime, datetime]:
    """The `from` and `to` query parameters of a listing by time: [from, to), in UTC.

    Both are ISO 8601 times with a zone (400 range_required when one is missing, 422
    invalid_from / invalid_to / invalid_range otherwise).
    """
    if not start or not end:
        raise ApiError(400, "range_required", "both from and to are required (ISO 8601 times with a zone)")
    first, last = _aware_time(start, "from"), _aware_time(end, "to")
    if not first < last or (last - first).days > MAX_RANGE_DAYS:
        raise ApiError(
            422, "invalid_range", f"from must be before to, at most {MAX_RANGE_DAYS} days apart"
        )
    return first, last


def report_period_query(first_day: str | None, last_day: str | None) -> Period:
    """The report's `from` and `to` days (YYYY-MM-DD, Beijing time, both included; 422 invalid_period)."""
    if not first_day or not last_day or len(first_day) > 10 or len(last_day) > 10:
        raise ApiError(422, "invalid_period", "from and to must be days in the form YYYY-MM-DD")
    try:
        period = Period.parse(first_day, last_day)
        period.end_utc()  # 9999-12-31 has no next day
    except ValueError as error:
        raise ApiError(422, "invalid_period", str(error)) from None
    except OverflowError:
        raise ApiError(422, "invalid_period", "the period must end before the year 9999") from None
    return period


def after_id_query(value: str | None) -> int:
    """Where a page of records starts: after this record id (0, the default, is the start)."""
    if value is None or value == "":
        return 0
    if not _RECORD_ID.fullmatch(value):
        raise ApiError(422, "invalid_after_id", "after_id must be a record id")
    return int(value)


def page_limit(value: str | None) -> int:
    """How many records a page holds: 1 to 1000, 1000 when not given (422 invalid_limit)."""
    if value is None or value == "":
        return DEFAULT_PAGE_LIMIT
    if not _LIMIT.fullmatch(value) or not 1 <= int(value) <= MAX_PAGE_LIMIT:
        raise ApiError(422, "invalid_limit", f"limit must be an integer from 1 to {MAX_PAGE_LIMIT}")
    return int(value)


def reviewed_query(value: str | None) -> bool | None:
    """The optional `reviewed` filter of the unanswered-question log: true, false or absent."""
    if value is None or value == "":
        return None
    if value not in ("true", "false"):
        raise ApiError(422, "invalid_reviewed", "reviewed must be true or false")
    return value == "true"


def record_id(value: str, not_found_code: str) -> int:
    """A record id taken from the path; one that cannot exist is simply not found (404)."""
    if not _RECORD_ID.fullmatch(value):
        raise ApiError(404, not_found_code, "no such record")
    return int(value)


def unanswered_review(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """A review body: {"intent": "request_return"} or {"new_topic": "预售咨询"}, exactly one.

    Returns:
        (intent, new_topic), one of them None.
    """
    _reject_unknown_fields(body, frozenset({"intent", "new_topic"}))
    intent, topic = body.get("intent"), body.get("new_topic")
    if (intent is None) == (topic is None):
        raise ApiError(422, "invalid_review", "give exactly one of intent and new_topic")
    if intent is not None:
        if not isinstance(intent, str) or not _INTENT.fullmatch(intent):
            raise ApiError(422, "invalid_intent", "intent must be an intent name such as request_return")
        return intent, None
    topic = _line(topic, "new_topic", MAX_TOPIC_CHARS).strip()
    if not topic:
        raise ApiError(422, "invalid_new_topic", "new_topic must name the topic")
    return None, topic


def handoff_status_query(value: str | None) -> str | None:
    """The optional `status` filter of the handoff list (422 when not a handoff status)."""
    if value is None or value == "":
        return None
    if value not in HANDOFF_STATUSES:
        raise ApiError(422, "invalid_status", f"status must be one of {', '.join(HANDOFF_STATUSES)}")
    return value


def ticket_limit(value: str | None) -> int:
    """How many tickets to list: 1 to 500, 100 when not given (422 invalid_limit)."""
    if value is None or value == "":
        return DEFAULT_TICKET_LIMIT
    if not _LIMIT.fullmatch(value) or not 1 <= int(value) <= MAX_TICKET_LIMIT:
        raise ApiError(422, "invalid_limit", f"limit must be an integer from 1 to {MAX_TICKET_LIMIT}")
    return int(value)


def desk_statuses_query(value: str | None) -> tuple[str, ...]:
    """The desk queue's `status` filter: comma-separated handoff statuses (422 invalid_status).

    Without it, the open tickets: queued, assigned and callback_scheduled.
    """
    if value is None or value == "":
        return DESK_DEFAULT_STATUSES
    statuses = tuple(dict.fromkeys(part.strip() for part in value.split(",")))
    if not all(status in HANDOFF_STATUSES for status in statuses):
        raise ApiError(
            422, "invalid_status", f"status must be a comma-separated list of {', '.join(HANDOFF_STATUSES)}"
        )
    return statuses


def agent_reply(body: Mapping[str, Any]) -> str:
    """An agent's reply body {"text": 1 to 2000 characters} (422 invalid_text)."""
    _reject_unknown_fields(body, frozenset({"text"}))
    text = body.get("text")
    if (
        not isinstance(text, str)
        or not text.strip()
        or len(text) > MAX_REPLY_CHARS
        or _CONTROL_CHARACTERS.search(text)
        or not _is_utf8_encodable(text)
    ):
        raise ApiError(422, "invalid_text", f"text must be a message of 1 to {MAX_REPLY_CHARS} characters")
    return text.strip()


def delivery_id(value: str) -> str:
    """A delivery id taken from the path; one that cannot exist is simply not found (404)."""
    if not _DELIVERY_ID.fullmatch(value):
        raise ApiError(404, "delivery_not_found", "no such delivery")
    return value


def delivery_status_query(value: str | None) -> str | None:
    """The optional `status` filter of the delivery list (422 invalid_status)."""
    if value is None or value == "":
        return None
    if value not in DELIVERY_STATUSES:
        raise ApiError(422, "invalid_status", f"status must be one of {', '.join(DELIVERY_STATUSES)}")
    return value


def new_record(body: Mapping[str, Any]) -> NewRecord:
    """A create-record body: {conversation_id, kind, order_id, outcome, rule, details}.

    The outcome of a kind the contract knows must be one of that kind's outcomes.
    """
    _reject_unknown_fields(body, _RECORD_FIELDS)
    kind = body.get("kind")
    if not isinstance(kind, str) or not _KIND.fullmatch(kind):
        raise ApiError(422, "invalid_kind", "kind must be 1-40 characters of a-z and '_'")
    outcome = _line(body.get("outcome"), "outcome", MAX_OUTCOME_CHARS)
    allowed = CONTRACT_OUTCOMES.get(kind)
    if allowed is not None and outcome not in allowed:
        raise ApiError(
            422, "invalid_outcome", f"the outcome of a {kind} record must be one of {', '.join(allowed)}"
        )
    return NewRecord(
        conversation_id=_conversation_id(body.get("conversation_id")),
        kind=kind,
        order_id=_order_id(body.get("order_id")),
        outcome=outcome,
        rule=_optional_rule(body.get("rule")),
        details=_json_object(body.get("details"), "details"),
        occurred_at=_optional_time(body.get("occurred_at"), "occurred_at"),
    )


def new_complaint(body: Mapping[str, Any]) -> NewComplaint:
    """A create-complaint body (see openapi.yaml); `due_at` is checked against now later."""
    _reject_unknown_fields(body, _COMPLAINT_FIELDS)
    category = body.get("category")
    if category not in COMPLAINT_CATEGORIES:
        raise ApiError(
            422, "invalid_category", f"category must be one of {', '.join(COMPLAINT_CATEGORIES)}"
        )
    description = body.get("description")
    if (
        not isinstance(description, str)
        or not description.strip()
        or len(description) > MAX_DESCRIPTION_CHARS
        or _CONTROL_CHARACTERS.search(description)
        or not _is_utf8_encodable(description)
    ):
        raise ApiError(
            422, "invalid_description", f"description must be text of 1 to {MAX_DESCRIPTION_CHARS} characters"
        )
    contact_phone = _contact_phone(body.get("contact_phone"))
    rule = body.get("rule")
    if rule is None:
        raise ApiError(422, "invalid_rule", "rule must be the id of the rule applied")
    return NewComplaint(
        conversation_id=_conversation_id(body.get("conversation_id")),
        channel=_channel(body.get("channel")),
        order_id=_order_id(body.get("order_id")),
        category=str(category),
        description=description.strip(),
        contact_phone=contact_phone,
        due_at=_aware_time(body.get("due_at"), "due_at"),
        rule=_line(rule, "rule", MAX_RULE_CHARS),
        evidence=_evidence(body.get("evidence", [])),
        ticket_id=_given_ticket_id(body.get("ticket_id"), COMPLAINT_PREFIX),
        occurred_at=_optional_time(body.get("occurred_at"), "occurred_at"),
    )


def _evidence(value: object) -> tuple[Evidence, ...]:
    """The pictures of a complaint: at most nine, each with a media id or a URL."""
    if not isinstance(value, list) or len(value) > MAX_EVIDENCE_ITEMS:
        raise ApiError(
            422, "invalid_evidence", f"evidence must be a list of at most {MAX_EVIDENCE_ITEMS} items"
        )
    items: list[Evidence] = []
    for entry in value:
        if not isinstance(entry, dict):
            raise ApiError(422, "invalid_evidence", "each evidence item must be an object")
        _reject_unknown_fields(entry, _EVIDENCE_FIELDS)
        if entry.get("kind") not in EVIDENCE_KINDS:
            kinds = ", ".join(EVIDENCE_KINDS)
            raise ApiError(422, "invalid_evidence", f"evidence kind must be one of {kinds}")
        media_id, url = entry.get("media_id"), entry.get("url")
        if media_id is not None:
            media_id = _line(media_id, "media_id", MAX_MEDIA_ID_CHARS)
        if url is not None and not (
            isinstance(url, str) and len(url) <= MAX_EVIDENCE_URL_CHARS and _EVIDENCE_URL.fullmatch(url)
        ):
            raise ApiError(422, "invalid_evidence", "an evidence url must be an http(s) URL")
        if media_id is None and url is None:
            raise ApiError(422, "invalid_evidence", "an evidence item needs a media_id or a url")
        items.append(
            Evidence(
                kind=str(entry["kind"]),
                channel=_channel(entry.get("channel")),
                media_id=media_id,
                url=url,
                received_at=_aware_time(entry.get("received_at"), "received_at"),
            )
        )
    return tuple(items)


def new_handoff(body: Mapping[str, Any]) -> NewHandoff:
    """A create-handoff body (see openapi.yaml).

    A handoff is created `queued` or `callback_scheduled`; a scheduled callback needs its
    `callback_at`. The optional full `contact_phone` is stored apart from the ticket.
    """
    _reject_unknown_fields(body, _HANDOFF_FIELDS)
    reason = body.get("reason")
    if reason not in HANDOFF_REASONS:
        raise ApiError(422, "invalid_reason", f"reason must be one of {', '.join(HANDOFF_REASONS)}")
    priority = body.get("priority")
    if (
        not isinstance(priority, int)
        or isinstance(priority, bool)
        or not MIN_PRIORITY <= priority <= MAX_PRIORITY
    ):
        raise ApiError(
            422, "invalid_priority", f"priority must be an integer from {MIN_PRIORITY} to {MAX_PRIORITY}"
        )
    status = body.get("status")
    if status not in NEW_HANDOFF_STATUSES:
        raise ApiError(
            422, "invalid_status", f"a new handoff's status must be one of {', '.join(NEW_HANDOFF_STATUSES)}"
        )
    raw_callback_at = body.get("callback_at")
    callback_at = None if raw_callback_at is None else _aware_time(raw_callback_at, "callback_at")
    if status == "callback_scheduled" and callback_at is None:
        raise ApiError(422, "invalid_callback_at", "a scheduled callback needs its callback_at")
    return NewHandoff(
        conversation_id=_conversation_id(body.get("conversation_id")),
        channel=_channel(body.get("channel")),
        order_id=_order_id(body.get("order_id")),
        reason=str(reason),
        priority=priority,
        status=str(status),
        due_at=_aware_time(body.get("due_at"), "due_at"),
        callback_at=callback_at,
        rule=_optional_rule(body.get("rule")),
        context=_handoff_context(body.get("context")),
        contact_phone=_contact_phone(body.get("contact_phone")),
        ticket_id=_given_ticket_id(body.get("ticket_id"), HANDOFF_PREFIX),
        occurred_at=_optional_time(body.get("occurred_at"), "occurred_at"),
    )


def _given_ticket_id(value: object, prefix: TicketPrefix) -> str | None:
    """The ticket id the bot drew (and told the shopper), or None to draw one here."""
    if value is None:
        return None
    if not isinstance(value, str) or not is_ticket_id(value, prefix):
        raise ApiError(
            422, "invalid_ticket_id", f"ticket_id must be {prefix} followed by 14 digits"
        )
    return value


def _optional_time(value: object, field: str) -> datetime | None:
    return None if value is None else _aware_time(value, field)


def _contact_phone(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _CONTACT_PHONE.fullmatch(value):
        raise ApiError(422, "invalid_contact_phone", "contact_phone must be a phone number or null")
    return value


def _handoff_context(value: object) -> HandoffContext:
    if not isinstance(value, dict):
        raise ApiError(422, "invalid_context", "context must be an object")
    _reject_unknown_fields(value, _CONTEXT_FIELDS, code="invalid_context")
    summary = value.get("summary")
    if (
        not isinstance(summary, str)
        or len(summary) > MAX_SUMMARY_CHARS
        or _CONTROL_CHARACTERS.search(summary)
        or not _is_utf8_encodable(summary)
    ):
        raise ApiError(
            422, "invalid_context", f"context.summary must be text of at most {MAX_SUMMARY_CHARS} characters"
        )
    transcript = value.get("transcript")
    if not isinstance(transcript, list):
        raise ApiError(422, "invalid_context", "context.transcript must be a list")
    _check_json_value(transcript, "context.transcript")
    order_snapshot = value.get("order_snapshot")
    contact_masked = value.get("contact_masked")
    intent = value.get("intent")
    if intent is not None and (not isinstance(intent, str) or not _INTENT.fullmatch(intent)):
        raise ApiError(422, "invalid_context", "context.intent must be an intent name or null")
    if contact_masked is not None and (
        not isinstance(contact_masked, str)
        or len(contact_masked) > MAX_CONTACT_MASKED_CHARS
        or _ANY_CONTROL_CHARACTER.search(contact_masked)
        or _FULL_MOBILE.search(contact_masked)
        or not _is_utf8_encodable(contact_masked)
    ):
        raise ApiError(
            422, "invalid_context", "context.contact_masked must be a masked contact (138****8000) or null"
        )
    return HandoffContext(
        summary=summary,
        transcript=transcript,
        slots=_json_object(value.get("slots"), "context.slots", code="invalid_context"),
        order_snapshot=None
        if order_snapshot is None
        else _json_object(order_snapshot, "context.order_snapshot", code="invalid_context"),
        contact_masked=contact_masked,
        intent=intent,
    )


def _conversation_id(value: object) -> str:
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= MAX_CONVERSATION_ID_CHARS
        or _ANY_CONTROL_CHARACTER.search(value)
        or not _is_utf8_encodable(value)
    ):
        raise ApiError(
            422,
            "invalid_conversation_id",
            f"conversation_id must be 1 to {MAX_CONVERSATION_ID_CHARS} characters without control characters",
        )
    return value


def _channel(value: object) -> str:
    if not isinstance(value, str) or not _CHANNEL.fullmatch(value):
        raise ApiError(422, "invalid_channel", "channel must be a channel name such as web, wechat or phone")
    return value


def _order_id(value: object) -> str | None:
    if value is None:
        return None
    return _line(value, "order_id", MAX_ORDER_ID_CHARS)


def _optional_rule(value: object) -> str | None:
    if value is None:
        return None
    return _line(value, "rule", MAX_RULE_CHARS)


def _line(value: object, field: str, max_chars: int) -> str:
    """A one-line string of 1 to `max_chars` characters (422 invalid_<field>)."""
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= max_chars
        or _ANY_CONTROL_CHARACTER.search(value)
        or not _is_utf8_encodable(value)
    ):
        raise ApiError(
            422, f"invalid_{field}", f"{field} must be 1 to {max_chars} characters without control characters"
        )
    return value


def _aware_time(value: object, field: str) -> datetime:
    """An ISO 8601 time with a time zone (a trailing Z means UTC), returned in UTC."""
    message = f"{field} must be an ISO 8601 time with a time zone, e.g. 2024-05-01T18:00:00+08:00"
    if not isinstance(value, str) or len(value) > 40:
        raise ApiError(422, f"invalid_{field}", message)
    text = value[:-1] + "+00:00" if value[-1:] in ("Z", "z") else value
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise ValueError("naive")
        return parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise ApiError(422, f"invalid_{field}", message) from None


def _json_object(value: object, field: str, *, code: str | None = None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ApiError(422, code or f"invalid_{field}", f"{field} must be an object")
    _check_json_value(value, field, code=code)
    return value


def _check_json_value(value: object, field: str, *, code: str | None = None) -> None:
    """Checks a JSON tree, iteratively so that depth cannot exhaust the stack."""
    error = ApiError(
        422,
        code or f"invalid_{field.split('.')[0]}",
        f"{field} must be JSON nested at most {MAX_JSON_DEPTH} deep, with finite 64-bit numbers "
        "and text without control characters",
    )
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise error
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str) or not _is_clean_text(key):
                    raise error
                pending.append((child, depth + 1))
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            if not _is_clean_text(item):
                raise error
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not -_INT64 <= item < _INT64:
                raise error
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise error
        else:
            raise error


def _is_clean_text(value: str) -> bool:
    return not _CONTROL_CHARACTERS.search(value) and _is_utf8_encodable(value)


def _is_utf8_encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _reject_unknown_fields(
    body: Mapping[str, Any], allowed: frozenset[str], *, code: str = "unknown_field"
) -> None:
    unknown = set(body) - allowed
    if unknown:
        # Field names are echoed only when they are plain identifiers, never raw input.
        shown = sorted(name for name in unknown if _FIELD_NAME.fullmatch(name))
        raise ApiError(
            422,
            code,
            "unknown field(s): " + (", ".join(shown) if shown else "(not shown)")
            + f"; allowed: {', '.join(sorted(allowed))}",
        )
