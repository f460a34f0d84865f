"""The JSON shapes of records and tickets, as the API serves them.

A record has exactly the fields of the service-record contract
(../shared/acceptance/README.md) plus its `id`; times are ISO 8601 in UTC with `+00:00`.
"""

from __future__ import annotations

from typing import Any

from record_service.models import ComplaintTicket, HandoffClaim, HandoffTicket, ServiceRecord
from record_service.repository import handoff_fields, iso


def record_json(record: ServiceRecord) -> dict[str, Any]:
    """A service record as the contract specifies it, plus its id."""
    return {
        "id": record.id,
        "conversation_id": record.conversation_id,
        "kind": record.kind,
        "order_id": record.order_id,
        "outcome": record.outcome,
        "rule": record.rule,
        "created_at": iso(record.created_at),
        "details": record.details,
    }


def complaint_json(ticket: ComplaintTicket) -> dict[str, Any]:
    """A complaint ticket, contact phone included (the support desk calls it)."""
    return {
        "ticket_id": ticket.ticket_id,
        "conversation_id": ticket.conversation_id,
        "channel": ticket.channel,
        "order_id": ticket.order_id,
        "category": ticket.category,
        "description": ticket.description,
        "contact_phone": ticket.contact_phone,
        "status": ticket.status,
        "created_at": iso(ticket.created_at),
        "due_at": iso(ticket.due_at),
        "rule": ticket.rule,
        "evidence": [
            {
                "kind": item.kind,
                "channel": item.channel,
                "media_id": item.media_id,
                "url": item.url,
                "received_at": iso(item.received_at),
            }
            for item in ticket.evidence
        ],
    }


def complaint_summary_json(ticket: ComplaintTicket) -> dict[str, Any]:
    """A complaint ticket in a listing: its facts, without the description or contact phone."""
    return {
        "ticket_id": ticket.ticket_id,
        "conversation_id": ticket.conversation_id,
        "channel": ticket.channel,
        "order_id": ticket.order_id,
        "category": ticket.category,
        "status": ticket.status,
        "created_at": iso(ticket.created_at),
        "due_at": iso(ticket.due_at),
        "rule": ticket.rule,
    }


def handoff_summary_json(ticket: HandoffTicket, claim: HandoffClaim | None) -> dict[str, Any]:
    """A handoff ticket in a listing by time: its fields and when a person took and closed it."""
    return {
        **handoff_fields(ticket),
        "claimed_at": None if claim is None else iso(claim.claimed_at),
        "resolved_at": None if claim is None else iso(claim.resolved_at),
        "resolution": None if claim is None else claim.resolution,
    }


def handoff_json(ticket: HandoffTicket) -> dict[str, Any]:
    """A handoff ticket with the context the person taking over needs (never the full phone)."""
    return {**handoff_fields(ticket), "context": ticket.context}


def ticket_json(ticket: ComplaintTicket | HandoffTicket) -> dict[str, Any]:
    """A complaint or handoff ticket."""
    if isinstance(ticket, ComplaintTicket):
        return complaint_json(ticket)
    return handoff_json(ticket)
