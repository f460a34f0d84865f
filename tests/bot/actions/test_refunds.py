"""Refund status (bot/actions/refunds.py) against the real order system and record service.

The clock is fixed at 10:00 Beijing time today (inside human service hours, so an overdue
refund's handoff is queued): the acceptance refunds are hours or days away from their
deadlines, so that moment and the real one decide the same.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import chinese_calendar
import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.order_client import OrderClient
from bot.actions.outbox import WriteOutbox
from bot.actions.records_client import RecordsClient
from bot.actions.refunds import ActionCheckRefundStatus
from bot.actions.services import Services
from tests.fixtures.actions import (
    BEIJING,
    beijing_date,
    beijing_today_at,
    deliver_queued,
    fixed_clock,
    install_services,
    make_tracker,
    new_conversation_id,
    said,
    stored_records,
    verified_slots,
)

NOW = beijing_today_at(10)


@pytest.fixture
def refund_services(action_services: Services) -> Services:
    return install_services(action_services, clock=fixed_clock(NOW))


async def check(
    domain: DomainDict, order_id: str, conversation: str, **slots: Any
) -> tuple[list[dict[str, Any]], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        sender_id=conversation,
        slots={**verified_slots(order_id), **slots},
        text="我的退款到哪了",
        intent="check_refund_status",
        latest_action_name="refund_status_form",
    )
    events = await ActionCheckRefundStatus().run(dispatcher, tracker, domain)
    return events, dispatcher


def shown(iso: str, *, with_time: bool = True) -> str:
    moment = datetime.fromisoformat(iso).astimezone(BEIJING)
    return f"{moment.month}月{moment.day}日" + (f" {moment:%H:%M}" if with_time else "")


def assert_end_of_next_working_day(due_by: str, counted_from: date) -> None:
    """`due_by` is 23:59:59 Beijing time on the first working day after `counted_from`."""
    due = datetime.fromisoformat(due_by)
    assert due.utcoffset() == timedelta(hours=8)
    assert due.time().isoformat() == "23:59:59"
    assert due.date() > counted_from
    assert chinese_calendar.is_workday(due.date())
    days_between = (due.date() - counted_from).days - 1
    assert not any(
        chinese_calendar.is_workday(counted_from + timedelta(days=n)) for n in range(1, days_between + 1)
    )


async def test_a_completed_refund_says_when_and_where_the_money_went(
    refund_services: Services, order_client: OrderClient, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()
    completed_at = order_client.get_order("8800002001").refunds[0].completed_at
    assert completed_at is not None
    completed_iso = completed_at.astimezone(BEIJING).isoformat()

    events, dispatcher = await check(domain, "8800002001", conversation)

    assert stored_records(records_client, conversation) == [
        {
            "conversation_id": conversation,
            "kind": "refund_status",
            "order_id": "8800002001",
            "outcome": "completed",
            "rule": "REFUND-DEADLINE",
            "details": {
                "refund_id": "RF2001",
                "status": "succeeded",
                "method": "wechat_pay",
                "amount": "239.00",
                "arrival_working_days": 0,
                "completed_at": completed_iso,
                "due_by": None,
                "expected_arrival": completed_iso,  # WeChat Pay: at once
            },
        }
    ]
    assert said(dispatcher) == [
        {
            "response": "utter_refund_completed",
            "completed_on": beijing_date(completed_at),
            "order_id": "8800002001",
            "amount": "239.00",
            "method": "微信支付账户",
            "arrival_note": f"预计最晚 {beijing_date(completed_at)} 到账。",
        }
    ]
    assert events == []


async def test_an_overdue_refund_is_owned_up_to_and_handed_to_a_person_in_the_same_turn(
    refund_services: Services, order_client: OrderClient, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()
    goods_received_at = order_client.get_order("8800002002").refunds[0].goods_received_at
    assert goods_received_at is not None

    events, dispatcher = await check(domain, "8800002002", conversation)

    refund_record, handoff_record = stored_records(records_client, conversation)
    due_by = refund_record["details"]["due_by"]
    assert_end_of_next_working_day(due_by, goods_received_at.astimezone(BEIJING).date())
    assert datetime.fromisoformat(due_by) < NOW
    assert {key: refund_record[key] for key in ("kind", "order_id", "outcome", "rule")} == {
        "kind": "refund_status",
        "order_id": "8800002002",
        "outcome": "overdue",
        "rule": "REFUND-DEADLINE",
    }
    assert {
        key: refund_record["details"][key]
        for key in ("refund_id", "status", "method", "amount", "counted_from")
    } == {
        "refund_id": "RF2002",
        "status": "processing",
        "method": "bank_card",
        "amount": "899.00",
        "counted_from": "goods_received",
    }
    assert {key: handoff_record[key] for key in ("kind", "order_id", "outcome", "rule")} == {
        "kind": "handoff",
        "order_id": "8800002002",
        "outcome": "queued",
        "rule": "HANDOFF-PRIORITY",
    }
    details = handoff_record["details"]
    assert (details["reason"], details["priority"], details["callback_at"]) == ("overdue_refund", 3, None)
    assert datetime.fromisoformat(details["due_at"]) == NOW + timedelta(minutes=15)
    assert details["context"]["order_snapshot"]["order_id"] == "8800002002"
    assert details["context"]["summary"] == (
        "诉求：查询退款进度；转人工原因：退款已超过处理时限；"
        "订单：8800002002（手持吸尘器，身份已核验）；顾客原话：我的退款到哪了"
    )
    assert said(dispatcher) == [
        {
            "response": "utter_refund_overdue",
            "order_id": "8800002002",
            "amount": "899.00",
            "due_by": shown(due_by),
        },
        {"response": "utter_handoff_queued", "ticket_id": details["ticket_id"]},
    ]
    assert events == []


async def test_a_refund_in_time_says_by_when_it_is_done(
    refund_services: Services, order_client: OrderClient, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()
    agreed_at = order_client.get_order("8800002003").refunds[0].agreed_at
    assert agreed_at is not None

    events, dispatcher = await check(domain, "8800002003", conversation)

    [record] = stored_records(records_client, conversation)
    due_by = record["details"]["due_by"]
    assert_end_of_next_working_day(due_by, agreed_at.astimezone(BEIJING).date())
    assert (record["kind"], record["order_id"], record["outcome"], record["details"]["counted_from"]) == (
        "refund_status",
        "8800002003",
        "on_time",
        "agreed",
    )
    assert record["details"]["expected_arrival"] == due_by  # Alipay: at once
    assert said(dispatcher) == [
        {
            "response": "utter_refund_on_time",
            "due_by": shown(due_by),
            "order_id": "8800002003",
            "amount": "18.00",
            "method": "支付宝账户",
            "arrival_note": f"预计最晚 {shown(due_by, with_time=False)} 到账。",
        }
    ]
    assert events == []


async def test_an_order_without_a_refund_says_so(
    refund_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()

    events, dispatcher = await check(domain, "8800001001", conversation)

    assert stored_records(records_client, conversation) == [
        {
            "conversation_id": conversation,
            "kind": "refund_status",
            "order_id": "8800001001",
            "outcome": "none",
            "rule": "REFUND-DEADLINE",
            "details": {"refund_id": None},
        }
    ]
    assert said(dispatcher) == [{"response": "utter_refund_none", "order_id": "8800001001"}]
    assert events == []


async def test_nothing_is_said_or_recorded_before_the_owner_is_verified(
    refund_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(sender_id=conversation, slots={"order_id": "8800002002"})

    events = await ActionCheckRefundStatus().run(dispatcher, tracker, domain)

    assert (events, said(dispatcher), stored_records(records_client, conversation)) == ([], [], [])


async def test_an_aborted_form_is_only_reset(
    refund_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()

    events, dispatcher = await check(domain, "8800002002", conversation, form_aborted=True)

    assert events == [SlotSet("form_aborted", False)]
    assert said(dispatcher) == []
    assert stored_records(records_client, conversation) == []


async def test_a_down_order_system_is_said_and_handed_over(
    refund_services: Services,
    down_order_client: OrderClient,
    records_client: RecordsClient,
    domain: DomainDict,
) -> None:
    install_services(refund_services, orders=down_order_client)
    conversation = new_conversation_id()

    events, dispatcher = await check(domain, "8800002002", conversation)

    records = stored_records(records_client, conversation)
    assert [(r["kind"], r["order_id"], r["details"]["reason"]) for r in records] == [
        ("handoff", None, "system_error")
    ]
    assert said(dispatcher) == [
        {"response": "utter_service_unavailable"},
        {"response": "utter_handoff_queued", "ticket_id": records[0]["details"]["ticket_id"]},
    ]
    assert events == []


async def test_a_down_record_service_changes_nothing_the_shopper_is_told(
    refund_services: Services,
    down_records_client: RecordsClient,
    records_client: RecordsClient,
    domain: DomainDict,
) -> None:
    up, down = new_conversation_id(), new_conversation_id()
    _, told_up = await check(domain, "8800002002", up)
    install_services(refund_services, records=down_records_client)

    events, told_down = await check(domain, "8800002002", down)

    # The same answers, a handoff ticket number apart; the records follow once it is back.
    tickets = {"ticket_id": "the handoff's"}
    assert [{**m, **tickets} if "ticket_id" in m else m for m in said(told_down)] == [
        {**m, **tickets} if "ticket_id" in m else m for m in said(told_up)
    ]
    assert events == []
    assert stored_records(records_client, down) == []
    assert deliver_queued(refund_services, records_client, down) == 0
    assert [r["kind"] for r in stored_records(records_client, down)] == [
        r["kind"] for r in stored_records(records_client, up)
    ]


async def test_a_decision_the_outbox_cannot_keep_is_not_announced(
    refund_services: Services, broken_outbox: WriteOutbox, domain: DomainDict
) -> None:
    install_services(refund_services, outbox=broken_outbox)

    events, dispatcher = await check(domain, "8800002002", new_conversation_id())

    # Neither the overdue refund nor a handoff is announced: nothing was kept.
    assert said(dispatcher) == [{"response": "utter_records_unavailable"}]
    assert events == []
