"""Order status: shipping state, carrier and tracking number, expected delivery; returns.

A parcel past its expected delivery date is not read out as news: the bot apologises and
offers to chase it with a logistics complaint (or a person).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.conversation import latest_intent
from bot.actions.handoff import hand_off
from bot.actions.http_client import ServiceError
from bot.actions.identity import OrderFormValidation
from bot.actions.order_client import Order
from bot.actions.ownership import verified_order, verified_order_if_reachable
from bot.actions.refunds import local_time
from bot.actions.services import services

ORDER_STATUS_NAMES = {
    "created": "待付款",
    "paid": "已付款，等待发货",
    "shipped": "已发货，运输中",
    "delivered": "已签收",
    "cancelled": "已取消",
    "closed": "已关闭",
}
RETURN_STATUS_NAMES = {
    "requested": "已提交，等待审核",
    "approved": "已同意，请寄回商品",
    "in_transit": "退货运输中",
    "received": "商家已收到退货",
    "rejected": "未通过审核",
    "completed": "已完成",
}


def shipment_note(order: Order) -> str:
    """One sentence about the parcel, in Chinese."""
    policy = services().policy
    shipment = order.shipment
    if shipment is None:
        return "还没有物流信息。"
    note = f"{shipment.carrier}，运单号 {shipment.tracking_number}。"
    if shipment.delivered_at is not None:
        return note + f"已于 {local_time(shipment.delivered_at.isoformat(), policy)} 签收。"
    if shipment.estimated_delivery is not None:
        expected_on = local_time(shipment.estimated_delivery.isoformat(), policy, with_time=False)
        if is_overdue(order, services().clock()):  # an estimate that has passed is not news
            return note + f"原预计 {expected_on} 送达，已超过预计时间。"
        return note + f"预计 {expected_on} 送达。"
    return note


def is_overdue(order: Order, now: datetime) -> bool:
    """Whether the parcel is still on its way after the day it was expected (local dates)."""
    shipment = order.shipment
    if order.status != "shipped" or shipment is None or shipment.delivered_at is not None:
        return False
    if shipment.estimated_delivery is None:
        return False
    zone = services().policy.timezone
    return now.astimezone(zone).date() > shipment.estimated_delivery.astimezone(zone).date()


# What the chasing complaint says for the agent (the shopper is told the ticket number).
CHASE_DESCRIPTION = (
    "订单 {order_id} 原预计 {expected_on} 送达，已超时仍未送达"
    "（{carrier}，运单号 {tracking_number}），顾客要求催件"
)
CHASE_OFFER = "chase"


def order_card_values(order: Order) -> dict[str, Any]:
    """What the web widget's order card shows besides the status (its `utter_order_status`
    variation; other channels' texts leave these values out)."""
    policy = services().policy
    return {
        "order_amount": f"{order.payment.amount:.2f}" if order.payment else "",
        "paid_at": local_time(order.paid_at.isoformat(), policy) if order.paid_at else "",
        "order_items": [{"name": item.name, "quantity": str(item.quantity)} for item in order.items],
    }


class ValidateOrderStatusForm(OrderFormValidation):
    """Asks the order and verifies its owner before its status is said."""

    def name(self) -> str:
        return "validate_order_status_form"


class ActionCheckOrderStatus(Action):
    """Tells the order's shipping state, and its returns when the shopper asked about one."""

    def name(self) -> str:
        return "action_check_order_status"

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
        if is_overdue(order, services().clock()):
            return self._apologise_for_overdue(dispatcher, order)
        for request in order.returns:
            dispatcher.utter_message(
                response="utter_return_status",
                return_id=request.return_id,
                status=RETURN_STATUS_NAMES.get(request.status, request.status),
            )
        dispatcher.utter_message(
            response="utter_order_status",
            order_id=order.order_id,
            item_names="、".join(item.name for item in order.items),
            status=ORDER_STATUS_NAMES.get(order.status, order.status),
            shipment_note=shipment_note(order),
            **order_card_values(order),
        )
        return []

    @staticmethod
    def _apologise_for_overdue(dispatcher: CollectingDispatcher, order: Order) -> list[EventType]:
        shipment = order.shipment
        assert shipment is not None and shipment.estimated_delivery is not None  # is_overdue
        expected_on = local_time(shipment.estimated_delivery.isoformat(), services().policy, with_time=False)
        dispatcher.utter_message(
            response="utter_order_overdue",
            order_id=order.order_id,
            item_names="、".join(item.name for item in order.items),
            expected_on=expected_on,
            carrier=shipment.carrier,
            tracking_number=shipment.tracking_number,
        )
        return [SlotSet("delivery_offer", CHASE_OFFER)]


class ActionReplyToDeliveryOffer(Action):
    """On a yes to chasing a late parcel, starts a logistics complaint that already says
    what is wrong, so only a contact number is asked; on a no, lets it be."""

    def name(self) -> str:
        return "action_reply_to_delivery_offer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        closed: list[EventType] = [SlotSet("delivery_offer", None)]
        if latest_intent(tracker) != "affirm":
            dispatcher.utter_message(response="utter_delivery_chase_declined")
            return closed
        order = await verified_order_if_reachable(tracker)
        shipment = order.shipment if order else None
        if order is None or shipment is None or shipment.estimated_delivery is None:
            dispatcher.utter_message(response="utter_service_unavailable")
            await hand_off(dispatcher, tracker, "system_error")
            return closed
        expected_on = local_time(shipment.estimated_delivery.isoformat(), services().policy, with_time=False)
        description = CHASE_DESCRIPTION.format(
            order_id=order.order_id,
            expected_on=expected_on,
            carrier=shipment.carrier,
            tracking_number=shipment.tracking_number,
        )
        return [
            *closed,
            SlotSet("complaint_description", description),
            SlotSet("complaint_category", "logistics"),
            FollowupAction("complaint_form"),
        ]
