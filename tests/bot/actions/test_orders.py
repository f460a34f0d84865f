"""Order status (bot/actions/orders.py) against the real order system.

The carriers and tracking numbers are the order system's demo shipments (derived from
the order id), so they are read from the order system rather than written here.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.order_client import OrderClient
from bot.actions.orders import ActionCheckOrderStatus, ActionReplyToDeliveryOffer, shipment_note
from bot.actions.records_client import RecordsClient
from bot.actions.services import Services
from tests.fixtures.actions import (
    BEIJING,
    beijing_date,
    beijing_today_at,
    fixed_clock,
    install_services,
    make_tracker,
    new_conversation_id,
    said,
    stored_records,
    verified_slots,
)


async def check(
    domain: DomainDict, order_id: str, conversation: str, **slots: Any
) -> tuple[list[dict[str, Any]], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        sender_id=conversation,
        slots={**verified_slots(order_id), **slots},
        text="我的快递到哪了",
        intent="check_order_status",
        latest_action_name="order_status_form",
    )
    events = await ActionCheckOrderStatus().run(dispatcher, tracker, domain)
    return events, dispatcher


def paid_at_of(orders: OrderClient, order_id: str) -> str:
    """When the order was paid, as the shopper reads it (Beijing time)."""
    paid = orders.get_order(order_id).paid_at
    assert paid is not None
    local = paid.astimezone(BEIJING)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


async def test_a_parcel_on_its_way_is_told_with_carrier_tracking_number_and_expected_day(
    action_services: Services, order_client: OrderClient, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()
    shipment = order_client.get_order("8800001007").shipment
    assert shipment is not None and shipment.estimated_delivery is not None
    assert shipment.delivered_at is None

    events, dispatcher = await check(domain, "8800001007", conversation)

    assert said(dispatcher) == [
        {
            "response": "utter_order_status",
            "order_id": "8800001007",
            "item_names": "降噪蓝牙耳机",
            "status": "已发货，运输中",
            "shipment_note": (
                f"{shipment.carrier}，运单号 {shipment.tracking_number}。"
                f"预计 {beijing_date(shipment.estimated_delivery)} 送达。"
            ),
            # For the web widget's order card.
            "order_amount": "1599.00",
            "paid_at": paid_at_of(order_client, "8800001007"),
            "order_items": [{"name": "降噪蓝牙耳机", "quantity": "1"}],
        }
    ]
    assert events == []
    assert stored_records(records_client, conversation) == []  # telling a status decides nothing


async def test_a_closed_order_tells_its_returns_first_then_when_it_was_signed_for(
    action_services: Services, order_client: OrderClient, domain: DomainDict
) -> None:
    shipment = order_client.get_order("8800002001").shipment
    assert shipment is not None and shipment.delivered_at is not None
    signed = shipment.delivered_at.astimezone(BEIJING)

    events, dispatcher = await check(domain, "8800002001", new_conversation_id())

    assert said(dispatcher) == [
        {"response": "utter_return_status", "return_id": "R2001", "status": "已完成"},
        {
            "response": "utter_order_status",
            "order_id": "8800002001",
            "item_names": "防风夹克",
            "status": "已关闭",
            "shipment_note": (
                f"{shipment.carrier}，运单号 {shipment.tracking_number}。"
                f"已于 {beijing_date(signed)} {signed:%H:%M} 签收。"
            ),
            "order_amount": "239.00",
            "paid_at": paid_at_of(order_client, "8800002001"),
            "order_items": [{"name": "防风夹克", "quantity": "1"}],
        },
    ]
    assert events == []


async def test_an_order_never_shipped_has_no_parcel_to_tell(
    action_services: Services, order_client: OrderClient, domain: DomainDict
) -> None:
    # 8800001005 is an activation code: delivered electronically, never shipped.
    events, dispatcher = await check(domain, "8800001005", new_conversation_id())

    assert said(dispatcher) == [
        {
            "response": "utter_order_status",
            "order_id": "8800001005",
            "item_names": "办公软件激活码(电子版)",
            "status": "已签收",
            "shipment_note": "还没有物流信息。",
            "order_amount": "268.00",
            "paid_at": paid_at_of(order_client, "8800001005"),
            "order_items": [{"name": "办公软件激活码(电子版)", "quantity": "1"}],
        }
    ]
    assert events == []


async def test_nothing_is_said_before_the_owner_is_verified(
    action_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        sender_id=conversation, slots={"order_id": "8800001007", "verified_order_id": "8800001001"}
    )

    events = await ActionCheckOrderStatus().run(dispatcher, tracker, domain)

    assert (events, said(dispatcher), stored_records(records_client, conversation)) == ([], [], [])


async def test_an_aborted_form_is_only_reset(action_services: Services, domain: DomainDict) -> None:
    events, dispatcher = await check(domain, "8800001007", new_conversation_id(), form_aborted=True)

    assert events == [SlotSet("form_aborted", False)]
    assert said(dispatcher) == []


async def test_a_down_order_system_is_said_and_handed_over(
    action_services: Services,
    down_order_client: OrderClient,
    records_client: RecordsClient,
    domain: DomainDict,
) -> None:
    install_services(action_services, orders=down_order_client, clock=fixed_clock(beijing_today_at(10)))
    conversation = new_conversation_id()

    events, dispatcher = await check(domain, "8800001007", conversation)

    records = stored_records(records_client, conversation)
    assert [(r["kind"], r["order_id"], r["details"]["reason"]) for r in records] == [
        ("handoff", None, "system_error")
    ]
    assert said(dispatcher) == [
        {"response": "utter_service_unavailable"},
        {"response": "utter_handoff_queued", "ticket_id": records[0]["details"]["ticket_id"]},
    ]
    assert events == []


# ---- a parcel past its expected delivery date ------------------------------------------------

OVERDUE_ORDER = "8800009002"  # tests/fixtures/orders/project_orders.yaml: shipped 5 days ago


async def test_a_parcel_past_its_expected_day_is_apologised_for_and_offered_a_chase(
    action_services: Services, order_client: OrderClient, domain: DomainDict
) -> None:
    shipment = order_client.get_order(OVERDUE_ORDER).shipment
    assert shipment is not None and shipment.estimated_delivery is not None
    expected = shipment.estimated_delivery.astimezone(BEIJING)

    events, dispatcher = await check(domain, OVERDUE_ORDER, new_conversation_id())

    assert said(dispatcher) == [
        {
            "response": "utter_order_overdue",
            "order_id": OVERDUE_ORDER,
            "item_names": "电热水壶",
            "expected_on": f"{expected.month}月{expected.day}日",
            "carrier": shipment.carrier,
            "tracking_number": shipment.tracking_number,
        }
    ]
    assert events == [SlotSet("delivery_offer", "chase")]


async def test_the_expected_day_itself_is_not_late_yet(
    action_services: Services, order_client: OrderClient, domain: DomainDict
) -> None:
    shipment = order_client.get_order(OVERDUE_ORDER).shipment
    assert shipment is not None and shipment.estimated_delivery is not None
    local = shipment.estimated_delivery.astimezone(BEIJING)
    install_services(action_services, clock=fixed_clock(local.replace(hour=23, minute=30)))

    events, dispatcher = await check(domain, OVERDUE_ORDER, new_conversation_id())

    assert [m["response"] for m in said(dispatcher)] == ["utter_order_status"]
    assert events == []


async def test_yes_to_the_chase_starts_a_logistics_complaint_that_says_what_is_late(
    action_services: Services, order_client: OrderClient, domain: DomainDict
) -> None:
    shipment = order_client.get_order(OVERDUE_ORDER).shipment
    assert shipment is not None and shipment.estimated_delivery is not None
    expected = shipment.estimated_delivery.astimezone(BEIJING)
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        slots={**verified_slots(OVERDUE_ORDER), "delivery_offer": "chase"}, text="/affirm", intent="affirm"
    )

    events = await ActionReplyToDeliveryOffer().run(dispatcher, tracker, domain)

    assert said(dispatcher) == []
    assert events == [
        SlotSet("delivery_offer", None),
        SlotSet(
            "complaint_description",
            f"订单 {OVERDUE_ORDER} 原预计 {expected.month}月{expected.day}日 送达，已超时仍未送达"
            f"（{shipment.carrier}，运单号 {shipment.tracking_number}），顾客要求催件",
        ),
        SlotSet("complaint_category", "logistics"),
        FollowupAction("complaint_form"),
    ]


async def test_no_to_the_chase_lets_it_be(action_services: Services, domain: DomainDict) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        slots={**verified_slots(OVERDUE_ORDER), "delivery_offer": "chase"}, text="不用了", intent="deny"
    )

    events = await ActionReplyToDeliveryOffer().run(dispatcher, tracker, domain)

    assert said(dispatcher) == [{"response": "utter_delivery_chase_declined"}]
    assert events == [SlotSet("delivery_offer", None)]


def test_a_passed_estimate_is_never_told_as_the_expected_day(action_services: Services) -> None:
    order = action_services.orders.get_order(OVERDUE_ORDER)
    assert "已超过预计时间" in shipment_note(order)
    assert "原预计" in shipment_note(order)
