"""Refund status: where the money is, by which path, and by when (rule REFUND-DEADLINE).

A refund past its deadline is the shop's fault: the bot apologises, says so plainly, and
hands the case to a person in the same turn (domain rules §4).
"""

from __future__ import annotations

from datetime import datetime

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.handoff import hand_off
from bot.actions.http_client import ServiceError
from bot.actions.identity import OrderFormValidation
from bot.actions.order_client import Order, Refund
from bot.actions.ownership import verified_order
from bot.actions.service_records import write_decision
from bot.actions.services import services
from bot.policy import Policy
from bot.policy.model import REFUND_COMPLETED, REFUND_NONE, REFUND_OVERDUE

PAYMENT_METHOD_NAMES = {
    "wechat_pay": "微信支付账户",
    "alipay": "支付宝账户",
    "bank_card": "银行卡",
    "balance": "商城余额",
}


def latest_refund(order: Order) -> Refund | None:
    """The order's most recent refund, or None."""
    if not order.refunds:
        return None
    return max(order.refunds, key=lambda r: (r.agreed_at is not None, r.agreed_at or datetime.min))


def local_time(iso: str | None, policy: Policy, *, with_time: bool = True) -> str:
    """An ISO time as the shopper reads it, in Beijing time: 11月24日 23:59."""
    if not iso:
        return ""
    moment = datetime.fromisoformat(iso).astimezone(policy.timezone)
    return f"{moment.month}月{moment.day}日" + (moment.strftime(" %H:%M") if with_time else "")


async def tell_refund_status(dispatcher: CollectingDispatcher, tracker: Tracker, order: Order) -> None:
    """Decides, records and tells the status of the order's latest refund.

    The shopper's owner check must have passed. An overdue refund is handed to a person.
    """
    svc = services()
    refund = latest_refund(order)
    decision = svc.policy.refund_status(refund, now=svc.clock())
    if not await write_decision(tracker, "refund_status", order.order_id, decision):
        dispatcher.utter_message(response="utter_records_unavailable")
        return
    facts = decision.facts
    if refund is None or decision.outcome == REFUND_NONE:
        dispatcher.utter_message(response="utter_refund_none", order_id=order.order_id)
        return
    arrival = local_time(facts.get("expected_arrival"), svc.policy, with_time=False)
    common = {
        "order_id": order.order_id,
        "amount": facts.get("amount"),
        "method": PAYMENT_METHOD_NAMES.get(refund.method, refund.method),
        "arrival_note": f"预计最晚 {arrival} 到账。" if arrival else "",
    }
    if decision.outcome == REFUND_COMPLETED:
        completed = local_time(facts.get("completed_at"), svc.policy, with_time=False)
        dispatcher.utter_message(response="utter_refund_completed", completed_on=completed, **common)
    elif decision.outcome == REFUND_OVERDUE:
        dispatcher.utter_message(
            response="utter_refund_overdue",
            order_id=order.order_id,
            amount=facts.get("amount"),
            due_by=local_time(facts.get("due_by"), svc.policy),
        )
        await hand_off(dispatcher, tracker, "overdue_refund", order=order)
    elif facts.get("due_by"):
        dispatcher.utter_message(
            response="utter_refund_on_time", due_by=local_time(facts["due_by"], svc.policy), **common
        )
    else:
        dispatcher.utter_message(response="utter_refund_waiting_goods", **common)


class ValidateRefundStatusForm(OrderFormValidation):
    """Asks the order and verifies its owner before anything about its refund is said."""

    def name(self) -> str:
        return "validate_refund_status_form"


class ActionCheckRefundStatus(Action):
    """Decides, records and tells the refund's status; escalates an overdue refund."""

    def name(self) -> str:
        return "action_check_refund_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.get_slot("form_aborted"):
            return [SlotSet("form_aborted", False)]
        try:
            order = await verified_order(tracker)
        except ServiceError:
            dispatcher.utter_message(response="utter_service_unavailable")
            await hand_off(dispatcher, tracker, "system_error")
            return []
        if order is None:
            return []
        await tell_refund_status(dispatcher, tracker, order)
        return []
