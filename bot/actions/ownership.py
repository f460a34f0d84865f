"""Whether this conversation has proven it owns the order it talks about, and the order.

One call of the action server (a form's validation, an ask action) may need the same
order several times; `fetch_order` reads it from the order system once per call.
"""

from __future__ import annotations

from contextvars import ContextVar

from rasa_sdk import Tracker

from bot.actions.http_client import ServiceError
from bot.actions.order_client import Order
from bot.actions.services import call, services

# The orders read during this action-server call; None outside a call (tests, scripts).
_orders_of_this_call: ContextVar[dict[str, Order] | None] = ContextVar("orders_of_this_call", default=None)


def start_action_call() -> None:
    """Begins a fresh order memo for one action-server request (the plugin calls it).

    Each request runs in one task, so the memo never crosses to another conversation.
    """
    _orders_of_this_call.set({})


def forget_orders() -> None:
    """Drops what this call has read: after a write to the order system."""
    memo = _orders_of_this_call.get()
    if memo is not None:
        memo.clear()


async def fetch_order(order_id: str) -> Order:
    """The order, from the order system at most once per action-server call.

    Raises:
        OrderNotFoundError: There is no such order.
        ServiceError: The order system failed.
    """
    memo = _orders_of_this_call.get()
    if memo is not None and order_id in memo:
        return memo[order_id]
    order = await call(services().orders.get_order, order_id)
    if memo is not None:
        memo[order_id] = order
    return order


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
    return await fetch_order(str(tracker.get_slot("order_id")))


async def verified_order_if_reachable(tracker: Tracker) -> Order | None:
    """`verified_order`, or None when the order system fails: for callers that carry on
    without it (a question to ask, a handoff), leaving the failure to the decision step."""
    try:
        return await verified_order(tracker)
    except ServiceError:
        return None
