"""Client of the record service (``record_service/``): service records and tickets.

Every business decision the bot takes is written as a service record (the contract is
``../shared/acceptance/README.md``); complaints and handoffs also open a ticket. The
actions do not call the write methods themselves: they queue the write's JSON in the
outbox (``bot.actions.outbox``) before answering, and the outbox hands it to
:meth:`RecordsClient.deliver`, now and again until the service has it. Every write
carries an idempotency key and is retried on transient failures, so it is never written
twice; a service that stays down raises ServiceUnavailableError, and the outbox tries
again later.

The client is synchronous: call it with ``asyncio.to_thread`` from an action (see
:mod:`bot.actions.http_client`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from bot.actions.http_client import (
    JsonApiClient,
    JsonFields,
    MalformedAnswerError,
    RetryPolicy,
)
from bot.actions.settings import ActionSettings
from service_common.breaker import CircuitBreaker

WriteKind = Literal["record", "complaint", "handoff"]
# The statuses a handoff is opened in; the desk moves it on (assigned, resolved).
HandoffStatus = Literal["queued", "callback_scheduled"]
WRITE_PATHS: Mapping[WriteKind, str] = {
    "record": "/api/records",
    "complaint": "/api/complaints",
    "handoff": "/api/handoffs",
}


class DecisionLike(Protocol):
    """A policy decision (``bot.policy.Decision``) as far as a record needs it."""

    @property
    def rule(self) -> str: ...

    @property
    def outcome(self) -> str: ...

    def to_record_details(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ServiceRecord:
    """One service record to write.

    Attributes:
        conversation_id: The Rasa sender id.
        kind: ``identity_check``, ``return_eligibility``, ``refund_status``... (the contract).
        outcome: The kind's outcome, e.g. ``eligible``.
        order_id: The order concerned, or None.
        rule: The id of the policy rule applied, or None.
        details: JSON-serialisable details (the contract says which per kind).
        occurred_at: When the decision was taken (the record is dated then, even if the
            outbox delivers it later), or None for the service's time of arrival.
    """

    conversation_id: str
    kind: str
    outcome: str
    order_id: str | None = None
    rule: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict, repr=False)
    occurred_at: datetime | None = None

    @classmethod
    def from_decision(
        cls,
        conversation_id: str,
        kind: str,
        order_id: str | None,
        decision: DecisionLike,
        **extra_details: Any,
    ) -> ServiceRecord:
        """The record of a policy decision: its rule, outcome and facts (plus ``extra_details``)."""
        return cls(
            conversation_id=conversation_id,
            kind=kind,
            outcome=decision.outcome,
            order_id=order_id,
            rule=decision.rule,
            details={**decision.to_record_details(), **extra_details},
        )

    def to_json(self) -> dict[str, Any]:
        """The POST /api/records body."""
        return {
            "conversation_id": self.conversation_id,
            "kind": self.kind,
            "order_id": self.order_id,
            "outcome": self.outcome,
            "rule": self.rule,
            "details": dict(self.details),
            **_occurred(self.occurred_at),
        }


@dataclass(frozen=True)
class NewComplaint:
    """A complaint to file.

    Attributes:
        conversation_id: The Rasa sender id.
        channel: web, wechat, phone...
        order_id: The order concerned, or None.
        category: product_quality, service_attitude, logistics, system_failure, merchant
            or other.
        description: The shopper's words (may hold personal data: not in ``repr``).
        contact_phone: The number to call back, or None (personal data: not in ``repr``).
        due_at: When feedback is due (at most 24 h away): an aware datetime or an ISO
            8601 string with an offset (as a policy decision's facts hold it).
        rule: The id of the policy rule applied, e.g. ``COMPLAINT-24H``.
        evidence: Pictures sent with the complaint, as the record service takes them
            (``kind``, ``channel``, ``media_id``, ``url``, ``received_at``).
        ticket_id: The id drawn by the bot (``service_common.tickets``) and told to the
            shopper, or None to let the service draw one.
        occurred_at: When the complaint was filed, or None for the time of arrival.
    """

    conversation_id: str
    channel: str
    order_id: str | None
    category: str
    description: str = field(repr=False)
    contact_phone: str | None = field(repr=False)
    due_at: datetime | str
    rule: str
    evidence: tuple[dict[str, Any], ...] = ()
    ticket_id: str | None = None
    occurred_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """The POST /api/complaints body."""
        return {
            "conversation_id": self.conversation_id,
            "channel": self.channel,
            "order_id": self.order_id,
            "category": self.category,
            "description": self.description,
            "contact_phone": self.contact_phone,
            "due_at": _aware_iso(self.due_at, "due_at"),
            "rule": self.rule,
            "evidence": [dict(item) for item in self.evidence],
            **_given_ticket_id(self.ticket_id),
            **_occurred(self.occurred_at),
        }


@dataclass(frozen=True)
class HandoffContext:
    """What the person taking over needs to know.

    Attributes:
        summary: One paragraph on what the shopper wants and what was done.
        transcript: The conversation so far, as JSON values (e.g. {"speaker", "text"}).
        slots: The dialogue's slots (JSON-serialisable).
        order_snapshot: ``Order.snapshot()``, or None.
        contact_masked: The shopper's contact, masked (138****8000), or None.
    """

    summary: str = field(repr=False)
    transcript: list[Any] = field(repr=False)
    slots: Mapping[str, Any] = field(repr=False)
    order_snapshot: Mapping[str, Any] | None = field(default=None, repr=False)
    contact_masked: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The handoff's ``context`` object."""
        return {
            "summary": self.summary,
            "transcript": list(self.transcript),
            "slots": dict(self.slots),
            "order_snapshot": None if self.order_snapshot is None else dict(self.order_snapshot),
            "contact_masked": self.contact_masked,
        }


@dataclass(frozen=True)
class NewHandoff:
    """A handoff to a person to open.

    Attributes:
        conversation_id: The Rasa sender id.
        channel: web, wechat, phone...
        order_id: The order concerned, or None.
        reason: user_request, beyond_authority, repeated_failure, urgent, overdue_refund,
            system_error or other.
        priority: 0 to 100 (the policy's handoff priority).
        status: ``queued``, or ``callback_scheduled`` outside service hours.
        due_at: When a person must have taken it (aware datetime or ISO 8601 string).
        callback_at: When to call back (required for ``callback_scheduled``), or None.
        rule: The id of the policy rule applied, or None.
        context: What the person taking over needs: a HandoffContext, or a mapping
            with the same keys (checked by the service).
        ticket_id: The id drawn by the bot and told to the shopper, or None.
        occurred_at: When the handoff was asked for, or None for the time of arrival.
    """

    conversation_id: str
    channel: str
    order_id: str | None
    reason: str
    priority: int
    status: HandoffStatus
    due_at: datetime | str
    callback_at: datetime | str | None
    rule: str | None
    context: HandoffContext | Mapping[str, Any] = field(repr=False)
    ticket_id: str | None = None
    occurred_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """The POST /api/handoffs body."""
        return {
            "conversation_id": self.conversation_id,
            "channel": self.channel,
            "order_id": self.order_id,
            "reason": self.reason,
            "priority": self.priority,
            "status": self.status,
            "due_at": _aware_iso(self.due_at, "due_at"),
            "callback_at": None if self.callback_at is None else _aware_iso(self.callback_at, "callback_at"),
            "rule": self.rule,
            "context": (
                self.context.to_json() if isinstance(self.context, HandoffContext) else dict(self.context)
            ),
            **_given_ticket_id(self.ticket_id),
            **_occurred(self.occurred_at),
        }


@dataclass(frozen=True)
class ComplaintTicket:
    """A filed complaint.

    Attributes:
        ticket_id: The ticket's id, e.g. ``TS20240501123456``.
        status: The ticket's status.
        category: The complaint category.
        created_at: When it was filed.
        due_at: When feedback is due.
        record: The ``complaint`` service record written with it.
    """

    ticket_id: str
    status: str
    category: str
    created_at: datetime
    due_at: datetime
    record: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class HandoffTicket:
    """An opened handoff.

    Attributes:
        ticket_id: The ticket's id, e.g. ``HO20240501123456``.
        status: ``queued`` or ``callback_scheduled``.
        reason: Why the conversation was handed off.
        priority: 0 to 100.
        created_at: When it was opened.
        due_at: When a person must have taken it.
        callback_at: When to call back, or None.
        record: The ``handoff`` service record written with it.
    """

    ticket_id: str
    status: str
    reason: str
    priority: int
    created_at: datetime
    due_at: datetime
    callback_at: datetime | None
    record: dict[str, Any] = field(repr=False)


def _aware_iso(moment: datetime | str, name: str) -> str:
    """``moment`` as ISO 8601 with its UTC offset; a string must already be one."""
    if isinstance(moment, str):
        text = moment[:-1] + "+00:00" if moment.endswith(("Z", "z")) else moment
        moment = datetime.fromisoformat(text)  # ValueError when it is not ISO 8601
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return moment.isoformat()


def _given_ticket_id(ticket_id: str | None) -> dict[str, str]:
    return {} if ticket_id is None else {"ticket_id": ticket_id}


def _occurred(moment: datetime | None) -> dict[str, str]:
    return {} if moment is None else {"occurred_at": _aware_iso(moment, "occurred_at")}


def parse_record(value: Any) -> dict[str, Any]:
    """A service record as served, checked to have the contract's fields."""
    fields = JsonFields(value, "record")
    fields.text("conversation_id")
    fields.text("kind")
    fields.text("outcome")
    fields.optional_text("order_id")
    fields.optional_text("rule")
    fields.time("created_at")
    fields.mapping("details")
    return dict(fields.raw)


def _parse_presence(value: Any) -> int:
    online = JsonFields(value, "presence").integer("agents_online")
    if online < 0:
        raise MalformedAnswerError("presence.agents_online is negative")
    return online


def _parse_records(value: Any) -> list[dict[str, Any]]:
    return [parse_record(record.raw) for record in JsonFields(value, "answer").children("records")]


def _parse_complaint(value: Any) -> ComplaintTicket:
    answer = JsonFields(value, "answer")
    ticket = answer.child("ticket")
    return ComplaintTicket(
        ticket_id=ticket.text("ticket_id"),
        status=ticket.text("status"),
        category=ticket.text("category"),
        created_at=ticket.time("created_at"),
        due_at=ticket.time("due_at"),
        record=parse_record(answer.raw.get("record")),
    )


def _parse_handoff(value: Any) -> HandoffTicket:
    answer = JsonFields(value, "answer")
    ticket = answer.child("ticket")
    return HandoffTicket(
        ticket_id=ticket.text("ticket_id"),
        status=ticket.text("status"),
        reason=ticket.text("reason"),
        priority=ticket.integer("priority"),
        created_at=ticket.time("created_at"),
        due_at=ticket.time("due_at"),
        callback_at=ticket.optional_time("callback_at"),
        record=parse_record(answer.raw.get("record")),
    )


class RecordsClient(JsonApiClient):
    """The record service's API.

    Idempotency keys must be 1-100 characters of ``A-Z a-z 0-9 _ . : -``; derive them
    from what makes the write unique (conversation id, kind, order id, turn), so that a
    retried action writes nothing twice.

    Args:
        base_url: The record service's URL (RECORDS_SERVICE_URL).
        token: Its bearer token (RECORDS_TOKEN).
        connect_timeout_s: Seconds to wait for a connection.
        read_timeout_s: Seconds to wait for each read of the answer.
        retry: Retries (every call of this client is safe to repeat).
        breaker: The record service's circuit breaker; share one per process.
        session: The HTTP session; a new one when None.
        sleep: How to wait between retries.
    """

    service_name = "record service"

    @classmethod
    def from_settings(cls, settings: ActionSettings) -> RecordsClient:
        """A client configured from the action server's settings."""
        records = settings.records
        return cls(
            records.url,
            records.token,
            connect_timeout_s=records.connect_timeout_s,
            read_timeout_s=records.read_timeout_s,
            retry=RetryPolicy(max_retries=records.max_retries, backoff_s=records.backoff_s),
            breaker=CircuitBreaker(records.breaker_failures, records.breaker_cooldown_s),
        )

    def write_record(self, record: ServiceRecord, idempotency_key: str) -> dict[str, Any]:
        """Writes a service record (committed when this returns); the same key writes it once.

        Returns:
            The stored record (contract fields plus ``id`` and ``created_at``).

        Raises:
            RequestRejectedError: 400/422 for a malformed record or key, 409 when the key
                was used for a different record.
            ServiceUnavailableError: The record service cannot answer now.
        """
        operation = "write_record"
        answer = self._post(
            "/api/records", record.to_json(), operation=operation, idempotency_key=idempotency_key
        )
        return self._parse(operation, parse_record, answer)

    def records_for(self, conversation_id: str) -> list[dict[str, Any]]:
        """The records of one conversation, oldest first.

        Raises:
            RequestRejectedError: 422 for a malformed conversation id.
            ServiceUnavailableError: The record service cannot answer now.
        """
        operation = "records_for"
        answer = self._get(
            "/api/records", operation=operation, params={"conversation_id": conversation_id}
        )
        return self._parse(operation, _parse_records, answer)

    def create_complaint(self, complaint: NewComplaint, idempotency_key: str) -> ComplaintTicket:
        """Files a complaint ticket and its ``complaint`` record; the same key files it once.

        Raises:
            ValueError: ``due_at`` is not a timezone-aware time.
            RequestRejectedError: 400/422 for malformed fields (e.g. ``due_at_not_in_future``),
                409 when the key was used for a different complaint.
            ServiceUnavailableError: The record service cannot answer now.
        """
        operation = "create_complaint"
        answer = self._post(
            "/api/complaints", complaint.to_json(), operation=operation, idempotency_key=idempotency_key
        )
        return self._parse(operation, _parse_complaint, answer)

    def create_handoff(self, handoff: NewHandoff, idempotency_key: str) -> HandoffTicket:
        """Opens a handoff ticket and its ``handoff`` record; the same key opens it once.

        Raises:
            ValueError: ``due_at`` or ``callback_at`` is not a timezone-aware time.
            RequestRejectedError: 400/422 for malformed fields, 409 when the key was used
                for a different handoff.
            ServiceUnavailableError: The record service cannot answer now.
        """
        operation = "create_handoff"
        answer = self._post(
            "/api/handoffs", handoff.to_json(), operation=operation, idempotency_key=idempotency_key
        )
        return self._parse(operation, _parse_handoff, answer)

    def deliver(self, kind: WriteKind, body: Mapping[str, Any], idempotency_key: str) -> None:
        """Delivers a write queued in the outbox (``bot.actions.outbox``); the same key stores it once.

        Args:
            kind: ``record``, ``complaint`` or ``handoff``.
            body: The ``to_json()`` of a ServiceRecord, NewComplaint or NewHandoff.
            idempotency_key: The key it was queued with.

        Raises:
            RequestRejectedError: The service refuses the write (it will not take it later either).
            ServiceUnavailableError: The record service cannot answer now.
        """
        operation = f"deliver_{kind}"
        self._post(WRITE_PATHS[kind], body, operation=operation, idempotency_key=idempotency_key)

    def desk_presence(self) -> int:
        """How many agents are online at the desk (called its API in the last 60 s).

        Raises:
            ServiceUnavailableError: The record service cannot answer now.
        """
        operation = "desk_presence"
        answer = self._get("/api/desk/presence", operation=operation)
        return self._parse(operation, _parse_presence, answer)
