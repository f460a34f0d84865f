"""The record service's operations over one SQLAlchemy session.

The repository knows nothing of HTTP: it raises `NotFoundError`, `ForbiddenError`,
`ConflictError` and `InvalidRequestError`, each with a stable code, and the API maps them
to 404, 403, 409 and 422. The caller owns the transaction (`service_common.db.transaction`).

Every creating call is idempotent: the request's key is stored in the same transaction as
what it created (the record, and the ticket with its record), and its primary key makes a
concurrent duplicate fail instead of creating a second one. Nothing is ever updated or
deleted here (the desk's workflow is in `record_service.desk.repository`). A handoff's
deliveries to external help desks are written in its transaction (the outbox).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from record_service.models import (
    ComplaintEvidence,
    ComplaintTicket,
    HandoffClaim,
    HandoffContact,
    HandoffDelivery,
    HandoffTicket,
    IdempotencyKey,
    ServiceRecord,
)
from service_common.tickets import COMPLAINT_PREFIX, HANDOFF_PREFIX, new_ticket_id

_NEW_ID_ATTEMPTS = 5
# The service-record contract: a complaint is due at most 24 h after it was made.
COMPLAINT_LONGEST_DUE = timedelta(hours=24)
# The event external help desks receive for a new handoff.
HANDOFF_CREATED = "handoff.created"


class RepositoryError(Exception):
    """An operation was refused.

    Args:
        code: Stable machine-readable code, e.g. `ticket_not_found`.
        message: Explanation for the caller (no personal data).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class NotFoundError(RepositoryError):
    """The ticket does not exist."""


class ForbiddenError(RepositoryError):
    """The caller may not do this to this ticket (e.g. reply to another agent's ticket)."""


class ConflictError(RepositoryError):
    """The request conflicts with what is stored: an Idempotency-Key already used for a
    different request, a ticket already taken or already closed."""


class InvalidRequestError(RepositoryError):
    """The request is well-formed but cannot be accepted now (e.g. a due time in the past)."""


@dataclass(frozen=True)
class NewRecord:
    """A validated service record to append."""

    conversation_id: str
    kind: str
    order_id: str | None
    outcome: str
    rule: str | None
    details: dict[str, Any]
    # When the bot took the decision, if it was queued before delivery; else now.
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class Evidence:
    """A picture sent with a complaint: the channel's media id and/or an https URL."""

    kind: str
    channel: str
    media_id: str | None
    url: str | None
    received_at: datetime


@dataclass(frozen=True)
class NewComplaint:
    """A validated complaint; its record is written with it."""

    conversation_id: str
    channel: str
    order_id: str | None
    category: str
    description: str
    contact_phone: str | None
    due_at: datetime
    rule: str
    evidence: tuple[Evidence, ...] = ()
    # The id the bot drew and told the shopper (kept), or None to draw one here.
    ticket_id: str | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class HandoffContext:
    """What the person taking a conversation over needs to know."""

    summary: str
    transcript: list[Any]
    slots: dict[str, Any]
    order_snapshot: dict[str, Any] | None
    contact_masked: str | None
    # The shopper's last intent before the handoff (the KPI report's reasons per intent).
    intent: str | None = None


@dataclass(frozen=True)
class NewHandoff:
    """A validated handoff; its record is written with it."""

    conversation_id: str
    channel: str
    order_id: str | None
    reason: str
    priority: int
    status: str
    due_at: datetime
    callback_at: datetime | None
    rule: str | None
    context: HandoffContext
    # The full number, kept apart from the ticket; agents see `context.contact_masked`.
    contact_phone: str | None = field(default=None, repr=False)
    ticket_id: str | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class Created:
    """What a creating call stored (or, for a retry, had stored before).

    Attributes:
        record: The service record.
        ticket: The complaint or handoff ticket, None for a plain record.
        is_new: False when the request was a retry of an earlier one.
    """

    record: ServiceRecord
    ticket: ComplaintTicket | HandoffTicket | None
    is_new: bool


def utc_now() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(timezone.utc)


def iso(moment: datetime | None) -> str | None:
    """An aware time as ISO 8601 in UTC with an explicit offset (2024-05-01T10:00:00+00:00)."""
    return None if moment is None else moment.astimezone(timezone.utc).isoformat()


class RecordRepository:
    """Appends and reads records and tickets within the caller's transaction.

    Args:
        session: A session inside a transaction.
        clock: Returns the current aware time; tests pass a fixed one.
        handoff_targets: The external help desks every new handoff is delivered to
            (`webhook`, `chatwoot`); one outbox row each is written with the ticket.
    """

    def __init__(
        self,
        session: Session,
        clock: Callable[[], datetime] = utc_now,
        handoff_targets: tuple[str, ...] = (),
    ) -> None:
        self.session = session
        self.clock = clock
        self.handoff_targets = handoff_targets

    # ----------------------------------------------------------------- reading

    def records(self, conversation_id: str) -> list[ServiceRecord]:
        """The records of a conversation, oldest first."""
        statement = (
            select(ServiceRecord)
            .where(ServiceRecord.conversation_id == conversation_id)
            .order_by(ServiceRecord.created_at, ServiceRecord.id)
        )
        return list(self.session.execute(statement).scalars())

    def records_between(
        self, start: datetime, end: datetime, after_id: int, limit: int
    ) -> list[ServiceRecord]:
        """A page of the records dated in [start, end), in id order, after `after_id`."""
        statement = (
            select(ServiceRecord)
            .where(ServiceRecord.created_at >= start, ServiceRecord.created_at < end)
            .where(ServiceRecord.id > after_id)
            .order_by(ServiceRecord.id)
            .limit(limit)
        )
        return list(self.session.execute(statement).scalars())

    def complaints_between(self, start: datetime, end: datetime) -> list[ComplaintTicket]:
        """The complaint tickets created in [start, end), oldest first."""
        statement = (
            select(ComplaintTicket)
            .where(ComplaintTicket.created_at >= start, ComplaintTicket.created_at < end)
            .order_by(ComplaintTicket.created_at, ComplaintTicket.ticket_id)
        )
        return list(self.session.execute(statement).scalars())

    def handoffs_between(
        self, start: datetime, end: datetime
    ) -> list[tuple[HandoffTicket, HandoffClaim | None]]:
        """The handoff tickets created in [start, end), oldest first, each with its claim."""
        statement = (
            select(HandoffTicket, HandoffClaim)
            .outerjoin(HandoffClaim, HandoffClaim.ticket_id == HandoffTicket.ticket_id)
            .where(HandoffTicket.created_at >= start, HandoffTicket.created_at < end)
            .order_by(HandoffTicket.created_at, HandoffTicket.ticket_id)
        )
        return [(ticket, claim) for ticket, claim in self.session.execute(statement)]

    def complaint(self, ticket_id: str) -> ComplaintTicket:
        """A complaint ticket.

        Raises:
            NotFoundError: complaint_not_found.
        """
        ticket = self.session.get(ComplaintTicket, ticket_id)
        if ticket is None:
            raise NotFoundError("complaint_not_found", "no such complaint ticket")
        return ticket

    def handoff(self, ticket_id: str) -> HandoffTicket:
        """A handoff ticket.

        Raises:
            NotFoundError: handoff_not_found.
        """
        ticket = self.session.get(HandoffTicket, ticket_id)
        if ticket is None:
            raise NotFoundError("handoff_not_found", "no such handoff ticket")
        return ticket

    def handoffs(self, status: str | None, limit: int) -> list[HandoffTicket]:
        """Handoff tickets (of one status, if given): highest priority first, then soonest due."""
        statement = select(HandoffTicket)
        if status is not None:
            statement = statement.where(HandoffTicket.status == status)
        statement = statement.order_by(
            HandoffTicket.priority.desc(), HandoffTicket.due_at, HandoffTicket.created_at
        ).limit(limit)
        return list(self.session.execute(statement).scalars())

    # ----------------------------------------------------------------- writing

    def create_record(self, request: NewRecord, idempotency_key: str) -> Created:
        """Appends a service record.

        Raises:
            ConflictError: idempotency_conflict.
        """
        fingerprint = _fingerprint("create_record", asdict(request))
        replayed = self._replay("create_record", idempotency_key, fingerprint)
        if replayed is not None:
            return replayed

        def build(now: datetime) -> tuple[ServiceRecord, None]:
            return _record(request.conversation_id, request.kind, request.order_id,
                           request.outcome, request.rule, request.details,
                           dated(request.occurred_at, now)), None

        return self._create(build, "create_record", idempotency_key, fingerprint)

    def create_complaint(self, request: NewComplaint, idempotency_key: str) -> Created:
        """Opens a complaint ticket and appends its `complaint` record, together.

        Raises:
            ConflictError: idempotency_conflict.
            InvalidRequestError: due_at_not_in_future, due_at_beyond_24_hours.
        """
        fingerprint = _fingerprint("create_complaint", asdict(request))
        replayed = self._replay("create_complaint", idempotency_key, fingerprint)
        if replayed is not None:
            return replayed
        self._check_future(request.due_at, request.occurred_at)
        self._check_complaint_deadline(request.due_at, request.occurred_at)

        def build(now: datetime) -> tuple[ServiceRecord, ComplaintTicket]:
            now = dated(request.occurred_at, now)
            ticket = ComplaintTicket(
                ticket_id=request.ticket_id or new_ticket_id(COMPLAINT_PREFIX, now),
                conversation_id=request.conversation_id,
                channel=request.channel,
                order_id=request.order_id,
                category=request.category,
                description=request.description,
                contact_phone=request.contact_phone,
                status="open",
                created_at=now,
                due_at=request.due_at,
                rule=request.rule,
                evidence=[
                    ComplaintEvidence(
                        position=position,
                        kind=item.kind,
                        channel=item.channel,
                        media_id=item.media_id,
                        url=item.url,
                        received_at=item.received_at,
                    )
                    for position, item in enumerate(request.evidence)
                ],
            )
            details = {
                "ticket_id": ticket.ticket_id,
                "channel": request.channel,
                "category": request.category,
                "due_at": iso(request.due_at),
                "evidence_count": len(request.evidence),
            }
            record = _record(request.conversation_id, "complaint", request.order_id,
                             "created", request.rule, details, now)
            return record, ticket

        return self._create(
            build, "create_complaint", idempotency_key, fingerprint, given_id=request.ticket_id
        )

    def create_handoff(self, request: NewHandoff, idempotency_key: str) -> Created:
        """Queues a handoff ticket and appends its `handoff` record, together.

        Raises:
            ConflictError: idempotency_conflict.
        """
        fingerprint = _fingerprint("create_handoff", asdict(request))
        replayed = self._replay("create_handoff", idempotency_key, fingerprint)
        if replayed is not None:
            return replayed
        # No `intent` key when the bot did not say (tickets written before it existed have none).
        context = {k: v for k, v in asdict(request.context).items() if k != "intent" or v is not None}

        def build(now: datetime) -> tuple[ServiceRecord, HandoffTicket]:
            now = dated(request.occurred_at, now)
            ticket = HandoffTicket(
                ticket_id=request.ticket_id or new_ticket_id(HANDOFF_PREFIX, now),
                conversation_id=request.conversation_id,
                channel=request.channel,
                order_id=request.order_id,
                reason=request.reason,
                priority=request.priority,
                status=request.status,
                created_at=now,
                due_at=request.due_at,
                callback_at=request.callback_at,
                rule=request.rule,
                context=context,
            )
            if request.contact_phone is not None:
                ticket.private_contact = HandoffContact(phone=request.contact_phone)
            ticket.deliveries = [
                HandoffDelivery(
                    delivery_id=str(uuid.uuid4()),
                    target=target,
                    event=HANDOFF_CREATED,
                    payload=handoff_event(ticket),
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
                for target in self.handoff_targets
            ]
            details = {
                "ticket_id": ticket.ticket_id,
                "channel": request.channel,
                "reason": request.reason,
                "priority": request.priority,
                "due_at": iso(request.due_at),
                "callback_at": iso(request.callback_at),
                "context": context,
            }
            record = _record(request.conversation_id, "handoff", request.order_id,
                             request.status, request.rule, details, now)
            return record, ticket

        return self._create(
            build, "create_handoff", idempotency_key, fingerprint, given_id=request.ticket_id
        )

    def _check_future(self, due_at: datetime, occurred_at: datetime | None) -> None:
        # Checked here rather than in validation: a retry after the due time has passed
        # still gets the ticket it created back. A ticket the bot queued while this
        # service was down is checked against when it was opened: it may arrive overdue.
        if due_at <= (occurred_at or self.clock()):
            raise InvalidRequestError("due_at_not_in_future", "due_at must be in the future")

    def _check_complaint_deadline(self, due_at: datetime, occurred_at: datetime | None) -> None:
        # The contract (and DB23 §8.4): a complaint's solution is due at most 24 hours after
        # it was made; a later promise is a caller's error, not a ticket to keep.
        if due_at > (occurred_at or self.clock()) + COMPLAINT_LONGEST_DUE:
            raise InvalidRequestError(
                "due_at_beyond_24_hours", "a complaint is due at most 24 hours after it is made"
            )

    def _replay(self, operation: str, key: str, fingerprint: str) -> Created | None:
        """What an earlier request with `key` created, or None if the key is new.

        Raises:
            ConflictError: idempotency_conflict, when the key was used for another request.
        """
        stored = self.session.get(IdempotencyKey, key, populate_existing=True)
        if stored is None:
            return None
        if stored.operation != operation or stored.request_fingerprint != fingerprint:
            raise ConflictError(
                "idempotency_conflict", "this Idempotency-Key was already used for a different request"
            )
        record = self.session.get(ServiceRecord, stored.record_id)
        ticket: ComplaintTicket | HandoffTicket | None = None
        if operation == "create_complaint":
            ticket = self.session.get(ComplaintTicket, stored.resource_id)
        elif operation == "create_handoff":
            ticket = self.session.get(HandoffTicket, stored.resource_id)
        if record is None or (operation != "create_record" and ticket is None):
            # Records are append-only; this means the tables were altered by hand.
            raise ConflictError(
                "idempotency_conflict", "what this Idempotency-Key created no longer exists"
            )
        return Created(record=record, ticket=ticket, is_new=False)

    def _create(
        self,
        build: Callable[[datetime], tuple[ServiceRecord, ComplaintTicket | HandoffTicket | None]],
        operation: str,
        key: str,
        fingerprint: str,
        *,
        given_id: str | None = None,
    ) -> Created:
        """Saves `build(now)` together with its idempotency key, in a savepoint.

        A concurrent request with the same key makes the key's insert fail; the savepoint
        is rolled back and that request's result is returned instead. A drawn ticket id
        that happens to be taken already is drawn again; a `given_id` that is taken by
        another request is a conflict (ticket_id_taken).
        """
        for _ in range(_NEW_ID_ATTEMPTS):
            now = self.clock()
            record, ticket = build(now)
            try:
                with self.session.begin_nested():
                    if ticket is not None:
                        self.session.add(ticket)
                    self.session.add(record)
                    self.session.flush()  # assigns the record's id
                    self.session.add(
                        IdempotencyKey(
                            key=key,
                            operation=operation,
                            request_fingerprint=fingerprint,
                            resource_id=str(record.id) if ticket is None else ticket.ticket_id,
                            record_id=record.id,
                            created_at=now,
                        )
                    )
            except IntegrityError:
                replayed = self._replay(operation, key, fingerprint)
                if replayed is not None:
                    return replayed
                if given_id is not None:
                    raise ConflictError(
                        "ticket_id_taken", "this ticket_id belongs to another ticket"
                    ) from None
                continue  # the random ticket id was taken: draw another one
            return Created(record=record, ticket=ticket, is_new=True)
        raise RuntimeError("could not draw a free ticket id")


def dated(occurred_at: datetime | None, now: datetime) -> datetime:
    """When a record or ticket is dated: when the bot took the decision (it may arrive
    later, from the bot's outbox), never later than its arrival (a fast caller's clock)."""
    return now if occurred_at is None else min(occurred_at, now)


def _record(
    conversation_id: str,
    kind: str,
    order_id: str | None,
    outcome: str,
    rule: str | None,
    details: dict[str, Any],
    now: datetime,
) -> ServiceRecord:
    return ServiceRecord(
        conversation_id=conversation_id,
        kind=kind,
        order_id=order_id,
        outcome=outcome,
        rule=rule,
        details=details,
        created_at=now,
    )


def _fingerprint(operation: str, request: dict[str, Any]) -> str:
    """A digest of what a request asks for, to tell a retry from a different request."""
    canonical = json.dumps(
        {"operation": operation, "request": request},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def handoff_fields(ticket: HandoffTicket) -> dict[str, Any]:
    """A handoff ticket's fields as the API serves them, without its context."""
    return {
        "ticket_id": ticket.ticket_id,
        "conversation_id": ticket.conversation_id,
        "channel": ticket.channel,
        "order_id": ticket.order_id,
        "reason": ticket.reason,
        "priority": ticket.priority,
        "status": ticket.status,
        "created_at": iso(ticket.created_at),
        "due_at": iso(ticket.due_at),
        "callback_at": iso(ticket.callback_at),
        "rule": ticket.rule,
    }


def handoff_event(ticket: HandoffTicket) -> dict[str, Any]:
    """What an external help desk receives for a new handoff: {event, ticket, context}.

    Never the full phone number: the context holds the masked contact only.
    """
    return {"event": HANDOFF_CREATED, "ticket": handoff_fields(ticket), "context": ticket.context}
