"""Writing what the shopper is told about to the record service, through the outbox.

Every write (a service record, a complaint, a handoff) is committed to the action
server's outbox (``bot.actions.outbox``) before the bot tells the shopper about it, and
delivered at once when the record service answers; when it does not, the outbox delivers
it later, so the decision can be announced either way. Only a write the outbox itself
cannot keep (its database is gone) is not announced.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from rasa_sdk import Tracker
from sqlalchemy.exc import SQLAlchemyError

from bot.actions.conversation import channel_of, conversation_id, idempotency_key
from bot.actions.outbox import QueuedWrite
from bot.actions.records_client import ServiceRecord, WriteKind
from bot.actions.services import call, services
from bot.policy import Decision
from bot.policy.model import DecisionOutcome, RuleId

logger = logging.getLogger(__name__)

# The kinds of service record the bot writes itself (a complaint's and a handoff's come
# with their tickets), and their outcomes (../shared/acceptance/README.md).
RecordKind = Literal["identity_check", "return_eligibility", "refund_status", "satisfaction", "unanswered"]
IdentityCheckOutcome = Literal["verified", "failed"]
SatisfactionOutcome = Literal["rated", "not_rated"]
# What the bot did with a message it could not answer (bot.actions.unanswered).
UnansweredOutcome = Literal["asked_to_rephrase", "offered_tasks", "handed_over", "answered_out_of_scope"]
RecordOutcome = Literal[IdentityCheckOutcome, SatisfactionOutcome, UnansweredOutcome, DecisionOutcome]


async def queue_write(
    kind: WriteKind, body: dict[str, Any], key: str, conversation: str
) -> QueuedWrite | None:
    """Queues one write and tries to deliver the conversation's queued writes now.

    Returns:
        The write as queued (a retried action gets the first try's body back, e.g. its
        ticket id), or None when the outbox cannot keep it.
    """
    svc = services()
    try:
        queued = await call(svc.outbox.queue, kind, body, key, conversation)
    except SQLAlchemyError as error:
        logger.error("could not queue a %s write: %s", kind, type(error).__name__)
        return None
    try:
        waiting = await call(svc.outbox.deliver_conversation, conversation, svc.records)
    except SQLAlchemyError as error:
        logger.error("could not deliver queued writes now (%s); the outbox retries", type(error).__name__)
        return queued
    if waiting:
        logger.warning("%d write(s) of this conversation wait in the outbox for the record service", waiting)
    return queued


async def write_record(
    tracker: Tracker,
    kind: RecordKind,
    *,
    order_id: str | None,
    outcome: RecordOutcome,
    rule: RuleId | None,
    details: dict[str, Any],
) -> bool:
    """Writes one service record for this conversation; True once it is kept.

    The idempotency key ties the record to the shopper's message, so a retried write
    never stores it twice. The details name the channel, for the KPI report.
    """
    conversation = conversation_id(tracker)
    record = ServiceRecord(
        conversation_id=conversation,
        kind=kind,
        order_id=order_id,
        outcome=outcome,
        rule=rule,
        details={**details, "channel": channel_of(tracker)},
        occurred_at=services().clock(),
    )
    key = idempotency_key(tracker, "record", kind, order_id, outcome, details.get("attempt"))
    return await queue_write("record", record.to_json(), key, conversation) is not None


async def write_decision(
    tracker: Tracker, kind: RecordKind, order_id: str | None, decision: Decision
) -> bool:
    """Writes a policy decision as a record: its outcome, rule and facts."""
    return await write_record(
        tracker,
        kind,
        order_id=order_id,
        outcome=decision.outcome,
        rule=decision.rule,
        details=decision.to_record_details(),
    )
