"""Whether this conversation has proven it owns the order it talks about."""

from __future__ import annotations

from rasa_sdk import Tracker

from bot.actions.http_client import ServiceError
from bot.actions.order_client import Order
from bot.actions.services import call, services


def is_verified(tracker: Tracker) -> bool:
    """Whether the shopper has proven they own the order in the `order_id` slot."""
    order_id = tracker.get_slot("order_id")
    return bool(order_id) and tracker.get_slot("verified_order_id") == order_id


async def verified_order(tracker: Tracker) -> Order | None:
    """The order in the `order_id` slot if its owner is verified (fetched fresh), else None.

    Raises:
        ServiceError: The order system failed.
    """
    if not is_verified(tracker):
        return None
    return await call(services().orders.get_order, str(tracker.get_slot("order_id")))


async def verified_order_if_reachable(tracker: Tracker) -> Order | None:
    """`verified_order`, or None when the order system fails: for callers that carry on
    without it (a question to ask, a handoff), leaving the failure to the decision step."""
    try:
        return await verified_order(tracker)
    except ServiceError:
        return None
