"""Order status: shipping state, carrier and tracking number, expected delivery; returns."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.handoff import hand_off
from bot.actions.http_client import ServiceError
from bot.actions.identity import OrderFormValidation
from bot.actions.order_client import Order
from bot.actions.ownership import verified_order
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
        return (
            note
            + f"预计 {local_time(shipment.estimated_delivery.isoformat(), policy, with_time=False)} 送达。"
        )
    return note


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
