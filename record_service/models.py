"""The record database: service records, complaint tickets, handoff tickets, idempotency keys.

Plain SQLAlchemy 1.4 declarative classes, used 2.0-style. Times are stored in UTC and
come back timezone-aware (`UtcDateTime`). Nothing here is ever updated or deleted by the
API: the archive is append-only.
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
    before evidence existed gain it from `create_all` without a migration.
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
