"""Identity before anything about an order (domain rules §7; rule IDENTITY-VERIFY).

Every form that looks at an order asks for the order number, then verifies that the
shopper owns it: by the account a trusted channel vouches for, else by the last four
digits of the order's phone. A `phone` account is the caller id of the phone line, and
is recorded as such (method `caller_id`). Nothing about the order is said, and no record but
`identity_check` is written, before that. After the policy's number of failures the
attempt ends politely, and every attempt is recorded.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.conversation import find_last4, find_order_id, latest_text, trusted_account
from bot.actions.handoff import hand_off
from bot.actions.http_client import RequestRejectedError, ServiceError, ServiceUnavailableError
from bot.actions.order_client import Order, OrderNotFoundError, OrderSummary
from bot.actions.ownership import fetch_order, is_verified
from bot.actions.prompts import BoundedAsk, BoundedQuestions, count_restarted
from bot.actions.service_records import write_record
from bot.actions.services import call, services
from bot.policy.model import IDENTITY_VERIFY

ORDER_SLOTS = ["order_id", "phone_last4"]
# Slots a form ends with when it cannot go on (identity locked, a service down).
ABORTED = {"form_aborted": True, "requested_slot": None}
# How many of a known shopper's latest orders are offered when asking which order.
RECENT_ORDERS_OFFERED = 3
# How many item names a recent order's button shows before "等".
ITEM_NAMES_SHOWN = 2
# The order system's account kind for a phone number: the phone line's caller id.
CALLER_ID_ACCOUNT = "phone"


def verification_method(account_kind: str) -> str:
    """The `identity_check` method of a verification by a trusted account of this kind."""
    return "caller_id" if account_kind == CALLER_ID_ACCOUNT else "account"


class OrderFormValidation(BoundedQuestions, FormValidationAction, ABC):
    """Validates the order number and the shopper's identity for an order form.

    Subclasses name the form and may add slots asked once identity is verified. A
    question asked twice without a usable answer goes to a person (`give_up`).
    """

    @abstractmethod
    def name(self) -> str:
        """The validation action's name, `validate_<form>`."""

    async def slots_after_identity(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        """Slots this form asks once the order's owner is verified (none by default)."""
        return []

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if tracker.get_slot("form_aborted") or tracker.get_slot("identity_locked"):
            return []
        if not is_verified(tracker):
            return list(ORDER_SLOTS)
        return ["order_id", *await self.slots_after_identity(dispatcher, tracker, domain)]

    async def validate_order_id(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """Accepts a ten-digit order number that exists; verifies by account if it can."""
        order_id = find_order_id(str(slot_value or ""))
        if order_id is None:  # asked again, with why and what else (action_ask_order_id)
            return {"order_id": None}
        try:
            order = await fetch_order(order_id)
        except OrderNotFoundError:
            dispatcher.utter_message(response="utter_order_not_found", order_id=order_id)
            return {"order_id": None}
        except ServiceUnavailableError:
            return await self._service_failed(dispatcher, tracker)
        slots: dict[str, Any] = {"order_id": order_id}
        if tracker.get_slot("verified_order_id") not in (None, order_id):
            slots["phone_last4"] = None  # another order: its owner is checked again
        try:
            owner_account = await self._owner_by_account(tracker, order)
        except ServiceUnavailableError:
            return await self._service_failed(dispatcher, tracker)
        if owner_account is not None:
            if not await write_record(
                tracker,
                "identity_check",
                order_id=order_id,
                outcome="verified",
                rule=IDENTITY_VERIFY,
                details={"method": verification_method(owner_account)},
            ):
                return await self._service_failed(dispatcher, tracker)
            slots.update(verified_order_id=order_id, phone_last4=None)
        return slots

    async def validate_phone_last4(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """Checks four phone digits against the order; counts and records every attempt."""
        order_id = tracker.get_slot("order_id")
        last4 = find_last4(str(slot_value or ""))
        if not order_id:
            return {"phone_last4": None}
        if last4 is None:  # asked again, with why and what else (action_ask_phone_last4)
            return {"phone_last4": None}
        if find_last4(latest_text(tracker)) != last4:
            # Digits the shopper gave for another order, still in the slot: never tried
            # on this one, where they would count as a failed attempt nobody made.
            return {"phone_last4": None}
        try:
            match = await call(services().orders.verify_phone_last4, order_id, last4)
        except ServiceUnavailableError:
            return await self._service_failed(dispatcher, tracker)
        if match:
            if not await write_record(
                tracker,
                "identity_check",
                order_id=order_id,
                outcome="verified",
                rule=IDENTITY_VERIFY,
                details={"method": "phone_last4"},
            ):
                return await self._service_failed(dispatcher, tracker)
            return {"phone_last4": last4, "verified_order_id": order_id, "identity_failures": 0}
        failures = int(tracker.get_slot("identity_failures") or 0) + 1
        allowed = services().policy.max_identity_attempts
        locked = failures >= allowed
        if not await write_record(
            tracker,
            "identity_check",
            order_id=order_id,
            outcome="failed",
            rule=IDENTITY_VERIFY,
            details={"method": "phone_last4", "attempt": failures, "locked": locked},
        ):
            return await self._service_failed(dispatcher, tracker)
        if locked:
            dispatcher.utter_message(response="utter_identity_locked")
            return {"phone_last4": None, "identity_failures": failures, "identity_locked": True, **ABORTED}
        dispatcher.utter_message(response="utter_identity_failed", remaining=allowed - failures)
        # Wrong digits are an answer: the attempts have their own limit, the asking starts over.
        return {"phone_last4": None, "identity_failures": failures, **count_restarted(tracker, "phone_last4")}

    async def give_up(
        self, slot: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Which order, whose order, which item, in what state: a person settles it now."""
        dispatcher.utter_message(response="utter_question_handed_over")
        await hand_off(dispatcher, tracker, "repeated_failure")
        return dict(ABORTED)

    async def _owner_by_account(self, tracker: Tracker, order: Order) -> str | None:
        """The kind of the trusted account that proves the shopper owns `order`, or None."""
        account = trusted_account(tracker)
        if account is None:
            return None
        try:
            customer = await call(services().orders.customer_by_account, *account)
        except RequestRejectedError:
            return None  # an account kind the order system does not know proves nothing
        owns = customer is not None and customer.customer_id == order.customer_id
        return account[0] if owns else None

    async def _service_failed(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        """A service is down: say so, hand over to a person, and end the form."""
        dispatcher.utter_message(response="utter_service_unavailable")
        await hand_off(dispatcher, tracker, "system_error")
        return dict(ABORTED)


def recent_order_button(order: OrderSummary) -> dict[str, str]:
    """A button that answers "which order?" with this order's number."""
    shown = order.item_names[:ITEM_NAMES_SHOWN]
    names = "、".join(shown) + ("等" if len(order.item_names) > ITEM_NAMES_SHOWN else "")
    day = f" · {order.paid_at.month}月{order.paid_at.day}日" if order.paid_at else ""
    return {"title": f"{order.order_id} · {names}{day}", "payload": order.order_id}


async def recent_orders_of_account(tracker: Tracker) -> list[OrderSummary]:
    """The latest orders of the shopper a trusted channel vouches for; none otherwise.

    Only the account's owner sees them: the REST webhook's metadata proves nothing, so
    its shoppers are never offered a list (see `trusted_account`).
    """
    account = trusted_account(tracker)
    if account is None:
        return []
    orders = services().orders
    try:
        customer = await call(orders.customer_by_account, *account)
        if customer is None:
            return []
        return await call(orders.recent_orders, customer.customer_id, RECENT_ORDERS_OFFERED)
    except ServiceError:
        return []  # asking for the number still works


class ActionAskOrderId(BoundedAsk):
    """Asks which order; a shopper known by their channel account picks from their latest."""

    slot = "order_id"

    def name(self) -> str:
        return "action_ask_order_id"

    async def ask(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, *, again: bool
    ) -> None:
        recent = await recent_orders_of_account(tracker)
        if recent:
            dispatcher.utter_message(
                response="utter_ask_order_id_recent_again" if again else "utter_ask_order_id_recent",
                buttons=[recent_order_button(o) for o in recent],
            )
        else:
            dispatcher.utter_message(response="utter_ask_order_id_again" if again else "utter_ask_order_id")


class ActionAskPhoneLast4(BoundedAsk):
    """Asks for the order phone's last four digits; the second time says why."""

    slot = "phone_last4"
    first_response = "utter_ask_phone_last4"
    again_response = "utter_ask_phone_last4_again"

    def name(self) -> str:
        return "action_ask_phone_last4"
