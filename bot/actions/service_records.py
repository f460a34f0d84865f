"""Writing the service records that archive every decision (the record contract).

A record is written, and acknowledged by the record service, before the bot tells the
shopper about the decision: if the write fails the decision is not announced.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker

from bot.actions.conversation import conversation_id, idempotency_key
from bot.actions.http_client import ServiceError
from bot.actions.records_client import ServiceRecord
from bot.actions.services import call, services
from bot.policy import Decision

logger = logging.getLogger(__name__)


async def write_record(
    tracker: Tracker,
    kind: str,
    *,
    order_id: str | None,
    outcome: str,
    rule: str | None,
    details: dict[str, Any],
) -> bool:
    """Writes one service record for this conversation; True once it is stored.

    The idempotency key ties the record to the shopper's message, so a retried write
    never stores it twice.
    """
    record = ServiceRecord(
        conversation_id=conversation_id(tracker),
        kind=kind,
        order_id=order_id,
        outcome=outcome,
        rule=rule,
        details=details,
    )
    key = idempotency_key(tracker, "record", kind, order_id, outcome, details.get("attempt"))
    try:
        await call(services().records.write_record, record, key)
    except ServiceError as error:
        logger.error("could not write a %s record: %s", kind, error)
        return False
    return True


async def write_decision(tracker: Tracker, kind: str, order_id: str | None, decision: Decision) -> bool:
    """Writes a policy decision as a record: its outcome, rule and facts."""
    return await write_record(
        tracker,
        kind,
        order_id=order_id,
        outcome=decision.outcome,
        rule=decision.rule,
        details=decision.to_record_details(),
    )
