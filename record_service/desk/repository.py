"""The desk's database work over one session: the queue, claims, closing, the audit.

Like `record_service.repository`, it knows nothing of HTTP and the caller owns the
transaction. A claim is a compare-and-set on the ticket's status (`queued` or
`callback_scheduled` -> `assigned`) plus a `handoff_claims` row whose primary key is the
ticket id: of two agents claiming at once, exactly one changes the row; the other finds it
`assigned` and gets `ticket_taken`. Closing is the same compare-and-set from `assigned`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from record_service.desk.agents import Actor
from record_service.models import (
    CLAIMABLE_STATUSES,
    DeskAuditEntry,
    HandoffClaim,
    HandoffContact,
    HandoffTicket,
)
from record_service.repository import ConflictError, ForbiddenError, NotFoundError, utc_now


@dataclass(frozen=True)
class DeskTicket:
    """A handoff ticket as the desk shows it.

    Attributes:
        ticket: The ticket.
        claim: Who took it, or None while it waits.
        has_contact_phone: Whether an agent could reveal a full phone number.
    """

    ticket: HandoffTicket
    claim: HandoffClaim | None
    has_contact_phone: bool


class DeskRepository:
    """The desk's reads and writes within the caller's transaction.

    Args:
        session: A session inside a transaction.
        clock: Returns the current aware time.
    """

    def __init__(self, session: Session, clock: Callable[[], datetime] = utc_now) -> None:
        self.session = session
        self.clock = clock

    # ----------------------------------------------------------------- reading

    def queue(self, statuses: tuple[str, ...], limit: int) -> list[DeskTicket]:
        """Tickets in `statuses`: most urgent priority (1) first, then soonest due, then oldest."""
        statement = (
            self._desk_tickets()
            .where(HandoffTicket.status.in_(statuses))
            .order_by(HandoffTicket.priority, HandoffTicket.due_at, HandoffTicket.created_at)
            .limit(limit)
        )
        rows = self.session.execute(statement)
        return [DeskTicket(ticket, claim, phone is not None) for ticket, claim, phone in rows]

    def ticket(self, ticket_id: str) -> DeskTicket:
        """One ticket with its claim.

        Raises:
            NotFoundError: handoff_not_found.
        """
        row = self.session.execute(self._desk_tickets().where(HandoffTicket.ticket_id == ticket_id)).first()
        if row is None:
            raise NotFoundError("handoff_not_found", "no such handoff ticket")
        ticket, claim, phone = row
        return DeskTicket(ticket, claim, phone is not None)

    def audit(self, ticket_id: str) -> list[DeskAuditEntry]:
        """The ticket's audit, oldest first.

        Raises:
            NotFoundError: handoff_not_found.
        """
        self.ticket(ticket_id)
        statement = (
            select(DeskAuditEntry).where(DeskAuditEntry.ticket_id == ticket_id).order_by(DeskAuditEntry.id)
        )
        return list(self.session.execute(statement).scalars())

    def contact_phone(self, ticket_id: str, claimant: Actor) -> str | None:
        """The full phone number of a ticket the claimant took, or None if there is none.

        Raises:
            NotFoundError: handoff_not_found.
            ConflictError: ticket_not_assigned (nobody took it yet).
            ForbiddenError: not_your_ticket.
        """
        desk_ticket = self.ticket(ticket_id)
        _check_claimant(desk_ticket.claim, claimant)
        contact = self.session.get(HandoffContact, ticket_id)
        return None if contact is None else str(contact.phone)

    # ----------------------------------------------------------------- workflow

    def claim(self, ticket_id: str, claimant: Actor) -> bool:
        """Takes a waiting ticket for `claimant`.

        Returns:
            True when this call took it; False when the claimant already had it.

        Raises:
            NotFoundError: handoff_not_found.
            ConflictError: ticket_closed (resolved), ticket_taken (someone else has it).
        """
        desk_ticket = self.ticket(ticket_id)
        ticket, claim = desk_ticket.ticket, desk_ticket.claim
        if ticket.status == "resolved":
            raise ConflictError("ticket_closed", "the ticket is resolved")
        if claim is not None and claim.resolved_at is None and claim.agent_id == claimant.id:
            return False
        claimed_from = ticket.status
        changed = self.session.execute(
            update(HandoffTicket)
            .where(HandoffTicket.ticket_id == ticket_id, HandoffTicket.status.in_(CLAIMABLE_STATUSES))
            .values(status="assigned")
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount != 1:
            raise ConflictError("ticket_taken", "another agent has taken this ticket")
        self.session.add(
            HandoffClaim(
                ticket_id=ticket_id,
                agent_id=claimant.id,
                agent_name=claimant.name,
                claimed_from=claimed_from,
                claimed_at=self.clock(),
            )
        )
        self.session.flush()
        return True

    def undo_claim(self, ticket_id: str, claimant: Actor) -> None:
        """Gives a ticket the claimant just took back to the queue (the bot could not be paused)."""
        claim = self.session.get(HandoffClaim, ticket_id)
        if claim is None or claim.agent_id != claimant.id or claim.resolved_at is not None:
            return
        self.session.execute(
            update(HandoffTicket)
            .where(HandoffTicket.ticket_id == ticket_id, HandoffTicket.status == "assigned")
            .values(status=claim.claimed_from)
            .execution_options(synchronize_session=False)
        )
        self.session.delete(claim)

    def owned(self, ticket_id: str, claimant: Actor) -> DeskTicket:
        """A ticket the claimant has, open.

        Raises:
            NotFoundError: handoff_not_found.
            ConflictError: ticket_closed, ticket_not_assigned.
            ForbiddenError: not_your_ticket.
        """
        desk_ticket = self.ticket(ticket_id)
        if desk_ticket.ticket.status == "resolved":
            raise ConflictError("ticket_closed", "the ticket is resolved; the bot has the conversation again")
        _check_claimant(desk_ticket.claim, claimant)
        return desk_ticket

    def close(self, ticket_id: str, claimant: Actor, resolution: str) -> None:
        """Resolves a ticket the claimant has (`resolved`, or `handed_back` to the bot).

        Raises:
            NotFoundError, ConflictError, ForbiddenError: as `owned`.
        """
        claim = self.owned(ticket_id, claimant).claim
        assert claim is not None  # owned() checked it
        changed = self.session.execute(
            update(HandoffTicket)
            .where(HandoffTicket.ticket_id == ticket_id, HandoffTicket.status == "assigned")
            .values(status="resolved")
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount != 1:
            raise ConflictError("ticket_closed", "the ticket is resolved; the bot has the conversation again")
        claim.resolved_at = self.clock()
        claim.resolution = resolution

    def record(
        self, ticket_id: str, actor: Actor, action: str, details: Mapping[str, Any] | None = None
    ) -> None:
        """Appends an agent's action to the audit (details never hold a full phone number)."""
        entry = DeskAuditEntry(
            ticket_id=ticket_id,
            agent_id=actor.id,
            action=action,
            at=self.clock(),
            details=dict(details or {}),
        )
        self.session.add(entry)

    def record_view(self, ticket_id: str, actor: Actor, every: timedelta) -> None:
        """Records that an agent viewed a ticket, at most once per `every` (the workspace polls)."""
        statement = (
            select(DeskAuditEntry.id)
            .where(
                DeskAuditEntry.ticket_id == ticket_id,
                DeskAuditEntry.agent_id == actor.id,
                DeskAuditEntry.action == "view",
                DeskAuditEntry.at > self.clock() - every,
            )
            .limit(1)
        )
        if self.session.execute(statement).first() is None:
            self.record(ticket_id, actor, "view")

    def _desk_tickets(self) -> Any:
        return (
            select(HandoffTicket, HandoffClaim, HandoffContact.ticket_id)
            .outerjoin(HandoffClaim, HandoffClaim.ticket_id == HandoffTicket.ticket_id)
            .outerjoin(HandoffContact, HandoffContact.ticket_id == HandoffTicket.ticket_id)
        )


def _check_claimant(claim: HandoffClaim | None, claimant: Actor) -> None:
    if claim is None:
        raise ConflictError("ticket_not_assigned", "nobody has taken this ticket: claim it first")
    if claim.agent_id != claimant.id:
        raise ForbiddenError("not_your_ticket", "another agent has this ticket")
