"""The record database: service records, complaint tickets, handoff tickets, idempotency keys,
and the human-handoff desk's tables (claims, audit, outbox, help-desk links).

Plain SQLAlchemy 1.4 declarative classes, used 2.0-style. Times are stored in UTC and
come back timezone-aware (`UtcDateTime`). Service records are never updated or deleted:
the archive is append-only. A handoff ticket's `status` follows the desk (queued ->
assigned -> resolved), and who did what is appended to the desk's audit table.

The desk's state lives in tables of its own rather than in new columns of
`handoff_tickets`, so that a database created before the desk existed gains them as
missing tables: the initial migration adds them. Schema changes are migrations
(`record_service/migrations/`): this module and a new revision change together.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import declarative_base, relationship

from service_common.db import UtcDateTime

Base: Any = declarative_base()

# The kinds of the service-record contract and the outcomes each one allows
# (../shared/acceptance/README.md). Other kinds may be added; their outcomes are free.
CONTRACT_OUTCOMES: dict[str, tuple[str, ...]] = {
    "identity_check": ("verified", "failed"),
    "return_eligibility": ("eligible", "not_eligible"),
    "refund_status": ("completed", "on_time", "overdue", "none"),
    "complaint": ("created",),
    "handoff": ("queued", "callback_scheduled"),
}
COMPLAINT_CATEGORIES = (
    "product_quality",
    "service_attitude",
    "logistics",
    "system_failure",
    "merchant",
    "other",
)
HANDOFF_REASONS = (
    "user_request",
    "beyond_authority",
    "repeated_failure",
    "urgent",
    "overdue_refund",
    "system_error",
    "other",
)
HANDOFF_STATUSES = ("queued", "assigned", "resolved", "callback_scheduled")
# The statuses a handoff can be created in; the others are reached by the support desk.
NEW_HANDOFF_STATUSES = ("queued", "callback_scheduled")
# The statuses an agent can claim a ticket from (a claim makes it `assigned`).
CLAIMABLE_STATUSES = NEW_HANDOFF_STATUSES
HANDOFF_RESOLUTIONS = ("resolved", "handed_back")
# The record kind of a message the bot could not answer (the unanswered-question log,
# 002 §7.1.2); its outcome is what the bot did next.
UNANSWERED_KIND = "unanswered"
UNANSWERED_OUTCOMES = ("asked_to_rephrase", "offered_tasks", "handed_over", "answered_out_of_scope")
# Ticket ids carry the Beijing date, as the support desk reads them.
BUSINESS_TZ = ZoneInfo("Asia/Shanghai")


class ServiceRecord(Base):
    """One business decision of the bot: what was decided, on which rule, with which facts."""

    __tablename__ = "service_records"
    __table_args__ = (Index("ix_service_records_conversation", "conversation_id", "id"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(128), nullable=False)
    kind = Column(String(40), nullable=False)
    order_id = Column(String(64))
    outcome = Column(String(64), nullable=False)
    rule = Column(String(128))
    details = Column(JSON, nullable=False)
    created_at = Column(UtcDateTime, nullable=False)


class ComplaintTicket(Base):
    """A complaint the support desk must answer before `due_at`."""

    __tablename__ = "complaint_tickets"

    ticket_id = Column(String(32), primary_key=True)
    conversation_id = Column(String(128), nullable=False, index=True)
    channel = Column(String(32), nullable=False)
    order_id = Column(String(64))
    category = Column(String(32), nullable=False)
    description = Column(Text, nullable=False)
    contact_phone = Column(String(32))
    status = Column(String(16), nullable=False, default="open")
    created_at = Column(UtcDateTime, nullable=False)
    due_at = Column(UtcDateTime, nullable=False)
    rule = Column(String(128), nullable=False)
    evidence = relationship(
        "ComplaintEvidence", order_by="ComplaintEvidence.position", lazy="selectin"
    )


class ComplaintEvidence(Base):
    """A picture the shopper sent with a complaint, as the channel received it.

    A table of its own rather than a column of the ticket, so that databases created
    before evidence existed gain it as a missing table (the initial migration adds it).
    """

    __tablename__ = "complaint_evidence"

    id = Column(Integer, primary_key=True, autoincrement=True)
    ticket_id = Column(String(32), ForeignKey("complaint_tickets.ticket_id"), nullable=False, index=True)
    position = Column(Integer, nullable=False)
    kind = Column(String(16), nullable=False)
    channel = Column(String(32), nullable=False)
    media_id = Column(String(128))
    url = Column(String(1024))
    received_at = Column(UtcDateTime, nullable=False)


class HandoffTicket(Base):
    """A conversation handed to a person, with what they need to take it over."""

    __tablename__ = "handoff_tickets"
    __table_args__ = (Index("ix_handoff_tickets_queue", "status", "priority", "due_at"),)

    ticket_id = Column(String(32), primary_key=True)
    conversation_id = Column(String(128), nullable=False, index=True)
    channel = Column(String(32), nullable=False)
    order_id = Column(String(64))
    reason = Column(String(32), nullable=False)
    priority = Column(Integer, nullable=False)
    status = Column(String(24), nullable=False)
    created_at = Column(UtcDateTime, nullable=False)
    due_at = Column(UtcDateTime, nullable=False)
    callback_at = Column(UtcDateTime)
    rule = Column(String(128))
    context = Column(JSON, nullable=False)
    # Written with the ticket; never loaded with it (the phone is served only by reveal-contact).
    private_contact = relationship("HandoffContact", uselist=False, lazy="raise")
    deliveries = relationship("HandoffDelivery", lazy="raise")


class HandoffContact(Base):
    """The shopper's full phone number for a handoff, kept apart from the ticket.

    Agents see the masked contact of the ticket's context; this row is read only when an
    agent reveals the number, and that is recorded in the audit.
    """

    __tablename__ = "handoff_contacts"

    ticket_id = Column(String(32), ForeignKey("handoff_tickets.ticket_id"), primary_key=True)
    phone = Column(String(32), nullable=False)


class HandoffClaim(Base):
    """The person (or external help desk) who took a handoff ticket.

    The primary key is what makes a claim exclusive: one row per ticket, whatever two
    agents read before. `claimed_from` is the status before the claim, to give the ticket
    back to the queue when the bot could not be paused.
    """

    __tablename__ = "handoff_claims"

    ticket_id = Column(String(32), ForeignKey("handoff_tickets.ticket_id"), primary_key=True)
    agent_id = Column(String(64), nullable=False, index=True)
    agent_name = Column(String(64), nullable=False)
    claimed_from = Column(String(24), nullable=False)
    claimed_at = Column(UtcDateTime, nullable=False)
    resolved_at = Column(UtcDateTime)
    # `resolved` (the shopper is asked for a rating) or `handed_back` (to the bot, no rating).
    resolution = Column(String(16))


class DeskAuditEntry(Base):
    """One action of an agent on a handoff ticket (view, claim, reply, resolve, reveal...).

    Details never hold a revealed phone number.
    """

    __tablename__ = "desk_audit"
    __table_args__ = (Index("ix_desk_audit_ticket", "ticket_id", "id"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    ticket_id = Column(String(32), ForeignKey("handoff_tickets.ticket_id"), nullable=False)
    agent_id = Column(String(64), nullable=False)
    action = Column(String(24), nullable=False)
    at = Column(UtcDateTime, nullable=False)
    details = Column(JSON, nullable=False)


class HandoffDelivery(Base):
    """A handoff to hand to an external help desk: the transactional outbox.

    Written in the ticket's transaction, delivered by the record service's background
    worker, retried with backoff until delivered or `failed` (kept, listed, replayable).
    `delivery_id` stays the same across retries, so receivers can drop duplicates.
    """

    __tablename__ = "handoff_deliveries"
    __table_args__ = (Index("ix_handoff_deliveries_due", "status", "next_attempt_at"),)

    delivery_id = Column(String(36), primary_key=True)
    ticket_id = Column(String(32), ForeignKey("handoff_tickets.ticket_id"), nullable=False, index=True)
    # `webhook` (the signed outgoing webhook) or `chatwoot` (the Chatwoot adapter).
    target = Column(String(16), nullable=False)
    event = Column(String(32), nullable=False)
    payload = Column(JSON, nullable=False)
    status = Column(String(16), nullable=False)
    attempts = Column(Integer, nullable=False)
    next_attempt_at = Column(UtcDateTime, nullable=False)
    last_error = Column(String(200))
    created_at = Column(UtcDateTime, nullable=False)
    delivered_at = Column(UtcDateTime)


class ChatwootLink(Base):
    """Where a handoff lives in Chatwoot, filled in step by step so that a retry repeats nothing."""

    __tablename__ = "chatwoot_links"

    ticket_id = Column(String(32), ForeignKey("handoff_tickets.ticket_id"), primary_key=True)
    contact_id = Column(Integer)
    source_id = Column(String(255))
    conversation_id = Column(Integer, unique=True)
    note_message_id = Column(Integer)


class ChatwootRelayedMessage(Base):
    """A Chatwoot agent message already relayed to the shopper (Chatwoot may send it twice)."""

    __tablename__ = "chatwoot_relayed_messages"

    message_id = Column(Integer, primary_key=True, autoincrement=False)
    ticket_id = Column(String(32), ForeignKey("handoff_tickets.ticket_id"), nullable=False)
    relayed_at = Column(UtcDateTime, nullable=False)


class UnansweredReview(Base):
    """A person's verdict on a message the bot could not answer (a record of kind `unanswered`).

    Kept beside the record, which stays as written: `intent` is the intent the message
    should have had, or `new_topic` names something the bot does not know yet (exactly
    one of the two). A later review of the same message replaces this one.
    """

    __tablename__ = "unanswered_reviews"

    record_id = Column(Integer, ForeignKey("service_records.id"), primary_key=True)
    intent = Column(String(64))
    new_topic = Column(String(64))
    reviewed_by = Column(String(64), nullable=False)
    reviewed_at = Column(UtcDateTime, nullable=False)


class IdempotencyKey(Base):
    """A creating request already served, so that a retry gets the same resource back.

    The primary key is what makes a retry safe under concurrency: two requests with the
    same key cannot both insert their row, whatever they looked up before. The table name
    differs from the order system's, so both services can share one PostgreSQL database.
    """

    __tablename__ = "record_idempotency_keys"

    key = Column(String(100), primary_key=True)
    operation = Column(String(32), nullable=False)
    request_fingerprint = Column(String(64), nullable=False)
    # The ticket id for tickets, the record id for plain records.
    resource_id = Column(String(32), nullable=False)
    record_id = Column(Integer, nullable=False)
    created_at = Column(UtcDateTime, nullable=False)
