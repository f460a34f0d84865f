"""Checking what callers send before it reaches the database.

What a request may contain (lengths, patterns, enums, ranges, unknown fields, text free
of control characters and lone surrogates) is stated once, in openapi.yaml, and checked
against it here (`service_common.openapi`). What a schema cannot say stays in Python,
each with its reason: times must carry a zone and are turned into UTC, JSON trees are
walked for depth and 64-bit numbers, some checks span two fields, and a record's outcome
depends on its kind. Every check raises `ApiError` with a stable code, so that no input,
however malformed, ends as a 500.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

from record_service.models import CONTRACT_OUTCOMES
from record_service.repository import Evidence, HandoffContext, NewComplaint, NewHandoff, NewRecord
from reporting.period import Period
from service_common.http import ApiError
from service_common.openapi import InvalidParameterError, OpenApiSchemas
from service_common.tickets import TICKET_ID_PATTERN

OPENAPI_PATH = Path(__file__).with_name("openapi.yaml")

# JsonObject in openapi.yaml: a schema cannot bound a tree's depth, so it is checked here.
MAX_JSON_DEPTH = 32
# A listing by time covers at most this many days (a year's report and some margin).
MAX_RANGE_DAYS = 400

# What JsonObject (openapi.yaml) allows in its texts and keys: tabs and line breaks only.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_INT64 = 2**63


@cache
def openapi_schemas() -> OpenApiSchemas:
    """openapi.yaml's schemas, loaded once per process (`create_app` loads them at start)."""
    return OpenApiSchemas.load(OPENAPI_PATH)


def _parameter(name: str, value: str | None, status: int, code: str) -> Any:
    """The value of the parameter `#/components/parameters/<name>`, or ApiError(status, code)."""
    try:
        return openapi_schemas().parameter(f"#/components/parameters/{name}", value)
    except InvalidParameterError as error:
        raise ApiError(status, code, str(error)) from None


def _body(name: str, body: Mapping[str, Any]) -> None:
    openapi_schemas().check_body(f"#/components/schemas/{name}", body)


def idempotency_key(value: str | None) -> str:
    """The Idempotency-Key header of a creating request (400 when missing or malformed)."""
    if not value:
        raise ApiError(400, "idempotency_key_required", "the Idempotency-Key header is required")
    return str(_parameter("IdempotencyKey", value, 400, "invalid_idempotency_key"))


def conversation_query(value: str | None) -> str:
    """The `conversation_id` query parameter (400 when missing, 422 when malformed)."""
    if value is None or value == "":
        raise ApiError(400, "conversation_id_required", "the conversation_id parameter is required")
    return str(_parameter("ConversationIdQuery", value, 422, "invalid_conversation_id"))


def ticket_id(value: str, not_found_code: str) -> str:
    """A ticket id taken from the path; one that cannot exist is simply not found (404)."""
    # The shape of ticket ids is service_common.tickets', which draws them.
    if not TICKET_ID_PATTERN.fullmatch(value):
        raise ApiError(404, not_found_code, "no such ticket")
    return value


def time_range_query(start: str | None, end: str | None) -> tuple[datetime, datetime]:
    """The `from` and `to` query parameters of a listing by time: [from, to), in UTC.

    Both are ISO 8601 times with a zone (400 range_required when one is missing, 422
    invalid_from / invalid_to / invalid_range otherwise).
    """
    # Two parameters together, and times in UTC: more than a parameter schema says.
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
    # Days of a calendar and their order: reporting.Period's to check.
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
    return int(_parameter("AfterId", value, 422, "invalid_after_id"))


def page_limit(value: str | None) -> int:
    """How many records a page holds: 1 to 1000, 1000 when not given (422 invalid_limit)."""
    return int(_parameter("PageLimit", value, 422, "invalid_limit"))


def reviewed_query(value: str | None) -> bool | None:
    """The optional `reviewed` filter of the unanswered-question log: true, false or absent."""
    reviewed = _parameter("Reviewed", value, 422, "invalid_reviewed")
    return None if reviewed is None else reviewed == "true"


def record_id(value: str, not_found_code: str) -> int:
    """A record id taken from the path; one that cannot exist is simply not found (404)."""
    try:
        number = openapi_schemas().parameter("#/components/parameters/RecordId", value)
    except InvalidParameterError:
        number = None
    if number is None:
        raise ApiError(404, not_found_code, "no such record")
    return int(number)


def unanswered_review(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """A review body: {"intent": "request_return"} or {"new_topic": "预售咨询"}, exactly one.

    Returns:
        (intent, new_topic), one of them None.
    """
    _body("UnansweredReview", body)
    # "Exactly one", with null as absent, and a topic not only of spaces: checked here.
    intent, topic = body.get("intent"), body.get("new_topic")
    if (intent is None) == (topic is None):
        raise ApiError(422, "invalid_review", "give exactly one of intent and new_topic")
    if intent is not None:
        return intent, None
    topic = str(topic).strip()
    if not topic:
        raise ApiError(422, "invalid_new_topic", "new_topic must name the topic")
    return None, topic


def handoff_status_query(value: str | None) -> str | None:
    """The optional `status` filter of the handoff list (422 when not a handoff status)."""
    return _parameter("HandoffStatus", value, 422, "invalid_status")


def ticket_limit(value: str | None) -> int:
    """How many tickets to list: 1 to 500, 100 when not given (422 invalid_limit)."""
    return int(_parameter("TicketLimit", value, 422, "invalid_limit"))


def desk_statuses_query(value: str | None) -> tuple[str, ...]:
    """The desk queue's `status` filter: comma-separated handoff statuses (422 invalid_status).

    Without it, the open tickets: queued, assigned and callback_scheduled.
    """
    statuses = _parameter("DeskStatuses", value, 422, "invalid_status")
    return tuple(dict.fromkeys(statuses))


def agent_reply(body: Mapping[str, Any]) -> str:
    """An agent's reply body {"text": 1 to 2000 characters} (422 invalid_text)."""
    _body("AgentReply", body)
    # Not only spaces: a schema pattern could say it, but not without hiding the limit.
    text = str(body["text"]).strip()
    if not text:
        raise ApiError(422, "invalid_text", "text must be a message, not only spaces")
    return text


def delivery_id(value: str) -> str:
    """A delivery id taken from the path; one that cannot exist is simply not found (404)."""
    try:
        return str(openapi_schemas().parameter("#/components/parameters/DeliveryId", value))
    except InvalidParameterError:
        raise ApiError(404, "delivery_not_found", "no such delivery") from None


def delivery_status_query(value: str | None) -> str | None:
    """The optional `status` filter of the delivery list (422 invalid_status)."""
    return _parameter("DeliveryStatus", value, 422, "invalid_status")


def new_record(body: Mapping[str, Any]) -> NewRecord:
    """A create-record body: {conversation_id, kind, order_id, outcome, rule, details}.

    The outcome of a kind the contract knows must be one of that kind's outcomes.
    """
    _body("NewRecord", body)
    kind, outcome = body["kind"], body["outcome"]
    # The outcomes of each kind are the service-record contract's (record_service.models).
    allowed = CONTRACT_OUTCOMES.get(kind)
    if allowed is not None and outcome not in allowed:
        raise ApiError(
            422, "invalid_outcome", f"the outcome of a {kind} record must be one of {', '.join(allowed)}"
        )
    return NewRecord(
        conversation_id=body["conversation_id"],
        kind=kind,
        order_id=body.get("order_id"),
        outcome=outcome,
        rule=body.get("rule"),
        details=_json_object(body["details"], "details"),
        occurred_at=_optional_time(body.get("occurred_at"), "occurred_at"),
    )


def new_complaint(body: Mapping[str, Any]) -> NewComplaint:
    """A create-complaint body (see openapi.yaml); `due_at` is checked against now later."""
    _body("NewComplaint", body)
    description = str(body["description"]).strip()
    if not description:
        raise ApiError(422, "invalid_description", "description must say something, not only spaces")
    return NewComplaint(
        conversation_id=body["conversation_id"],
        channel=body["channel"],
        order_id=body.get("order_id"),
        category=body["category"],
        description=description,
        contact_phone=body.get("contact_phone"),
        due_at=_aware_time(body["due_at"], "due_at"),
        rule=body["rule"],
        evidence=tuple(_evidence(entry) for entry in body.get("evidence", [])),
        ticket_id=body.get("ticket_id"),
        occurred_at=_optional_time(body.get("occurred_at"), "occurred_at"),
    )


def _evidence(entry: Mapping[str, Any]) -> Evidence:
    """A picture of a complaint, already checked against the Evidence schema."""
    return Evidence(
        kind=entry["kind"],
        channel=entry["channel"],
        media_id=entry.get("media_id"),
        url=entry.get("url"),
        received_at=_aware_time(entry["received_at"], "received_at"),
    )


def new_handoff(body: Mapping[str, Any]) -> NewHandoff:
    """A create-handoff body (see openapi.yaml).

    A handoff is created `queued` or `callback_scheduled`; a scheduled callback needs its
    `callback_at`. The optional full `contact_phone` is stored apart from the ticket.
    """
    _body("NewHandoff", body)
    status = body["status"]
    callback_at = _optional_time(body.get("callback_at"), "callback_at")
    # One field required by the value of another: checked here.
    if status == "callback_scheduled" and callback_at is None:
        raise ApiError(422, "invalid_callback_at", "a scheduled callback needs its callback_at")
    return NewHandoff(
        conversation_id=body["conversation_id"],
        channel=body["channel"],
        order_id=body.get("order_id"),
        reason=body["reason"],
        priority=body["priority"],
        status=status,
        due_at=_aware_time(body["due_at"], "due_at"),
        callback_at=callback_at,
        rule=body.get("rule"),
        context=_handoff_context(body["context"]),
        contact_phone=body.get("contact_phone"),
        ticket_id=body.get("ticket_id"),
        occurred_at=_optional_time(body.get("occurred_at"), "occurred_at"),
    )


def _optional_time(value: object, field: str) -> datetime | None:
    return None if value is None else _aware_time(value, field)


def _handoff_context(value: Mapping[str, Any]) -> HandoffContext:
    """A handoff's context, already checked against the HandoffContext schema."""
    transcript = value["transcript"]
    _check_json_value(transcript, "context.transcript", code="invalid_context")
    order_snapshot = value.get("order_snapshot")
    return HandoffContext(
        summary=value["summary"],
        transcript=transcript,
        slots=_json_object(value["slots"], "context.slots", code="invalid_context"),
        order_snapshot=None
        if order_snapshot is None
        else _json_object(order_snapshot, "context.order_snapshot", code="invalid_context"),
        contact_masked=value.get("contact_masked"),
        intent=value.get("intent"),
    )


def _aware_time(value: object, field: str) -> datetime:
    """An ISO 8601 time with a time zone (a trailing Z means UTC), returned in UTC."""
    # `format: date-time` in openapi.yaml; parsed here, since the zone is required and the
    # service keeps times in UTC.
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
    """Checks a JSON tree, iteratively so that depth cannot exhaust the stack.

    JsonObject in openapi.yaml: a schema can bound neither depth nor every member of a
    tree, so the tree is walked here.
    """
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
