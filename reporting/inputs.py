"""Reading the record service's JSON items defensively: any field may be missing or malformed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reporting.period import Period, parse_time

UNKNOWN = "unknown"


@dataclass(frozen=True)
class Dated:
    """An input item (record, ticket or unanswered message) with its parsed `created_at`."""

    item: Mapping[str, Any]
    created_at: datetime


def dated_in_period(items: Iterable[object], period: Period) -> list[Dated]:
    """The items whose `created_at` falls inside the period, in input order.

    Items that are not JSON objects or have no readable `created_at` are dropped: the
    figures count only what they can place in time.
    """
    kept = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        created_at = parse_time(item.get("created_at"))
        if created_at is not None and period.contains(created_at):
            kept.append(Dated(item, created_at))
    return kept


def text_of(value: object) -> str | None:
    """A non-blank string with its surrounding blanks removed; None for anything else."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def details_of(item: Mapping[str, Any]) -> Mapping[str, Any]:
    """A record's or message's `details` object (empty when missing or not an object)."""
    details = item.get("details")
    return details if isinstance(details, Mapping) else {}


def conversation_of(item: Mapping[str, Any]) -> str | None:
    """The item's conversation id exactly as written (" a" and "a" are two conversations
    to Rasa), None when it has none."""
    value = item.get("conversation_id")
    return value if isinstance(value, str) and value else None


def record_channel(record: Mapping[str, Any]) -> str | None:
    """The channel a record or unanswered message names in `details.channel` (older ones name none)."""
    return text_of(details_of(record).get("channel"))


def ticket_channel(ticket: Mapping[str, Any]) -> str | None:
    """The channel a complaint or handoff ticket names."""
    return text_of(ticket.get("channel"))


def key_or_unknown(value: object) -> str:
    """A grouping key: the value's text, or "unknown" when it is missing or blank."""
    return text_of(value) or UNKNOWN
