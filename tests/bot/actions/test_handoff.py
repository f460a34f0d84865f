"""Handing over to a person (bot/actions/handoff.py) against the real services.

The clock is fixed: 10:00 Beijing time is inside human service hours (09:00-21:00), 23:00
and 08:00 are outside.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.handoff import ActionHandoff, hand_off, is_distressed, priority_for, summary_for
from bot.actions.order_client import OrderClient
from bot.actions.outbox import WriteOutbox
from bot.actions.records_client import RecordsClient
from bot.actions.services import Services
from bot.policy import Policy
from tests.fixtures.actions import (
    DESK_OPEN_AT,
    beijing_today_at,
    bot_event,
    deliver_queued,
    fixed_clock,
    install_services,
    make_tracker,
    new_conversation_id,
    said,
    stored_records,
    told_channel,
    user_event,
    verified_slots,
)

# Whatever form was running ends: a person takes it from here.
CLOSES_THE_FORM = [ActiveLoop(None), SlotSet("requested_slot", None)]


@pytest.mark.parametrize(
    ("texts", "distressed"),
    [
        (["我要投诉到底"], True),
        (["你们这什么破服务"], True),
        (["快点！！"], True),
        (["再不退款我就找律师"], True),
        (["请问退款到哪了", "好的谢谢"], False),
        ([], False),
    ],
)
def test_is_distressed(texts: list[str], distressed: bool) -> None:
    assert is_distressed(texts) is distressed


@pytest.mark.parametrize(
    ("reason", "distressed", "priority"),
    [
        ("urgent", False, 1),
        ("urgent", True, 1),  # nothing is more urgent than urgent
        ("beyond_authority", False, 2),
        ("overdue_refund", True, 2),
        ("user_request", False, 6),
        ("user_request", True, 5),
        ("other", False, 7),
    ],
)
def test_priority_for(action_policy: Policy, reason: str, distressed: bool, priority: int) -> None:
    assert priority_for(action_policy, reason, distressed) == priority


def test_priority_for_a_reason_outside_the_contract_is_refused(action_policy: Policy) -> None:
    with pytest.raises(ValueError, match="handoff reason"):
        priority_for(action_policy, "bored", False)


def test_summary_for_names_the_wish_the_reason_the_order_and_the_words(order_client: OrderClient) -> None:
    history = [user_event("我想退货", intent="request_return"), bot_event("请问是哪个订单？")]
    order = order_client.get_order("8800001001")

    no_order = make_tracker(history=history, text="转人工", intent="request_human")
    unverified = make_tracker(
        history=history, text="转人工", intent="request_human", slots={"order_id": "8800001001"}
    )

    assert summary_for(no_order, "user_request", None) == (
        "诉求：顾客要求人工服务；转人工原因：顾客主动要求转人工；订单：未提供；顾客原话：转人工"
    )
    assert summary_for(unverified, "user_request", None) == (
        "诉求：顾客要求人工服务；转人工原因：顾客主动要求转人工；订单：8800001001（身份未核验）；顾客原话：转人工"
    )
    assert summary_for(unverified, "overdue_refund", order) == (
        "诉求：顾客要求人工服务；转人工原因：退款已超过处理时限；订单：8800001001（纯棉圆领T恤，身份已核验）；顾客原话：转人工"
    )


def test_summary_for_a_message_without_a_known_wish_quotes_at_most_200_characters() -> None:
    tracker = make_tracker(text="啊" * 300, intent="chitchat")

    assert summary_for(tracker, "other", None) == (
        "诉求：未识别到具体诉求；转人工原因：其他原因；订单：未提供；顾客原话：" + "啊" * 200
    )


def test_summary_for_a_button_press_quotes_what_the_shopper_last_wrote() -> None:
    pressed = make_tracker(text="/request_human", intent="request_human",
                           history=[user_event("快递三天没动了", intent="check_order_status")])
    only_pressed = make_tracker(text="/request_human", intent="request_human")

    assert summary_for(pressed, "user_request", None).endswith("顾客原话：快递三天没动了")
    assert summary_for(only_pressed, "user_request", None).endswith("顾客原话：（顾客点选了按钮）")


async def run_handoff(
    domain: DomainDict, conversation: str, intent: str | None, text: str = "转人工", **tracker_args: Any
) -> tuple[list[dict[str, Any]], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(sender_id=conversation, text=text, intent=intent, **tracker_args)
    events = await ActionHandoff().run(dispatcher, tracker, domain)
    return events, dispatcher


@pytest.mark.parametrize(
    ("intent", "reason", "priority", "sla_minutes", "responses"),
    [
        ("request_human", "user_request", 6, 30, ["utter_handoff_queued"]),
        (
            "request_compensation",
            "beyond_authority",
            2,
            15,
            ["utter_handoff_beyond_authority", "utter_handoff_queued_urgent"],
        ),
        ("report_urgent_issue", "urgent", 1, 5, ["utter_handoff_queued_urgent"]),
        ("nlu_fallback", "repeated_failure", 4, 30, ["utter_handoff_queued"]),
        ("greet", "other", 7, 30, ["utter_handoff_queued"]),
        (None, "other", 7, 30, ["utter_handoff_queued"]),
    ],
)
async def test_the_reason_and_priority_come_from_the_intent(
    intent: str | None,
    reason: str,
    priority: int,
    sla_minutes: int,
    responses: list[str],
    open_hours: Services,
    records_client: RecordsClient,
    domain: DomainDict,
) -> None:
    conversation = new_conversation_id()

    events, dispatcher = await run_handoff(domain, conversation, intent)

    [record] = stored_records(records_client, conversation)
    details = record["details"]
    assert (record["kind"], record["order_id"], record["outcome"], record["rule"]) == (
        "handoff",
        None,
        "queued",
        "HANDOFF-PRIORITY",
    )
    assert (details["reason"], details["priority"], details["callback_at"]) == (reason, priority, None)
    assert datetime.fromisoformat(details["due_at"]) == DESK_OPEN_AT + timedelta(minutes=sla_minutes)
    assert [message["response"] for message in said(dispatcher)] == responses
    assert said(dispatcher)[-1]["ticket_id"] == details["ticket_id"]
    assert events == CLOSES_THE_FORM


async def test_strong_words_move_the_ticket_one_step_up(
    open_hours: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()

    await run_handoff(domain, conversation, "request_human", text="马上给我转人工！！")

    assert [r["details"]["priority"] for r in stored_records(records_client, conversation)] == [5]


@pytest.mark.parametrize(
    ("hour", "opens_on_day"),
    [(23, 1), (8, 0)],  # 23:00 calls back tomorrow at 09:00; 08:00 calls back today at 09:00
)
async def test_outside_service_hours_a_callback_is_scheduled(
    hour: int,
    opens_on_day: int,
    action_services: Services,
    records_client: RecordsClient,
    domain: DomainDict,
) -> None:
    now = beijing_today_at(hour)
    install_services(action_services, clock=fixed_clock(now))
    conversation = new_conversation_id()
    callback_at = beijing_today_at(9) + timedelta(days=opens_on_day)

    events, dispatcher = await run_handoff(domain, conversation, "request_human")

    [record] = stored_records(records_client, conversation)
    details = record["details"]
    assert record["outcome"] == "callback_scheduled"
    assert datetime.fromisoformat(details["callback_at"]) == callback_at
    assert datetime.fromisoformat(details["due_at"]) == callback_at + timedelta(minutes=30)
    assert said(dispatcher) == [
        {
            "response": "utter_handoff_callback",
            "ticket_id": details["ticket_id"],
            "open_at": "09:00",
            "close_at": "21:00",
            "callback_at": callback_at.strftime("%m月%d日 09:00"),
        }
    ]
    assert events == CLOSES_THE_FORM


async def test_a_handoff_carries_the_context_an_agent_needs(
    open_hours: Services, records_client: RecordsClient, order_client: OrderClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()
    history = [
        user_event("我的退款怎么还没到", intent="check_refund_status", timestamp=1_750_000_000.0),
        bot_event("请问是哪个订单？", timestamp=1_750_000_001.0),
    ]
    slots = {**verified_slots("8800002002"), "contact_phone": "13912345678", "requested_slot": "phone_last4"}

    events, _ = await run_handoff(
        domain, conversation, "request_human", history=history, slots=slots, active_loop="refund_status_form"
    )

    [record] = stored_records(records_client, conversation)
    context = record["details"]["context"]
    assert record["order_id"] == "8800002002"
    assert context == {
        "summary": (
            "诉求：顾客要求人工服务；转人工原因：顾客主动要求转人工；"
            "订单：8800002002（手持吸尘器，身份已核验）；顾客原话：转人工"
        ),
        "transcript": [
            {"role": "shopper", "text": "我的退款怎么还没到", "at": "2025-06-15T15:06:40+00:00"},
            {"role": "bot", "text": "请问是哪个订单？", "at": "2025-06-15T15:06:41+00:00"},
            {"role": "shopper", "text": "转人工", "at": None},
        ],
        # Slots with a value, but neither the contact number nor the form's bookkeeping.
        "slots": {
            "order_id": "8800002002",
            "phone_last4": "5678",
            "verified_order_id": "8800002002",
            "form_aborted": False,
            "identity_failures": 0,
            "identity_locked": False,
        },
        "order_snapshot": order_client.get_order("8800002002").snapshot(),
        "contact_masked": "139****5678",
        # For the KPI report's handoff reasons per intent.
        "intent": "request_human",
    }
    assert events == CLOSES_THE_FORM


async def test_an_unverified_order_is_neither_linked_nor_shown(
    open_hours: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()

    await run_handoff(
        domain, conversation, "request_human", slots={"order_id": "8800002002", "phone_last4": "1234"}
    )

    [record] = stored_records(records_client, conversation)
    assert record["order_id"] is None
    assert record["details"]["context"]["order_snapshot"] is None
    assert "8800002002（身份未核验）" in record["details"]["context"]["summary"]


async def test_a_down_order_system_still_hands_over_without_the_order(
    open_hours: Services,
    down_order_client: OrderClient,
    records_client: RecordsClient,
    domain: DomainDict,
) -> None:
    install_services(open_hours, orders=down_order_client)
    conversation = new_conversation_id()

    events, dispatcher = await run_handoff(
        domain, conversation, "request_human", slots=verified_slots("8800002002")
    )

    [record] = stored_records(records_client, conversation)
    assert (record["order_id"], record["details"]["context"]["order_snapshot"]) == (None, None)
    assert said(dispatcher) == [
        {"response": "utter_handoff_queued", "ticket_id": record["details"]["ticket_id"]}
    ]
    assert events == CLOSES_THE_FORM


async def test_a_handoff_while_the_record_service_is_down_is_queued_with_its_number(
    open_hours: Services,
    down_records_client: RecordsClient,
    records_client: RecordsClient,
    domain: DomainDict,
) -> None:
    install_services(open_hours, records=down_records_client)
    conversation = new_conversation_id()

    events, dispatcher = await run_handoff(
        domain, conversation, "request_compensation", active_loop="complaint_form"
    )

    beyond, queued = said(dispatcher)
    assert (beyond, queued["response"]) == (
        {"response": "utter_handoff_beyond_authority"},
        "utter_handoff_queued_urgent",  # compensation is priority 2
    )
    assert events == CLOSES_THE_FORM
    assert deliver_queued(open_hours, records_client, conversation) == 0
    [record] = stored_records(records_client, conversation)
    assert (record["kind"], record["details"]["ticket_id"]) == ("handoff", queued["ticket_id"])


async def test_a_handoff_the_outbox_cannot_keep_says_it_failed(
    open_hours: Services, broken_outbox: WriteOutbox, domain: DomainDict
) -> None:
    install_services(open_hours, outbox=broken_outbox)

    events, dispatcher = await run_handoff(
        domain, new_conversation_id(), "request_compensation", active_loop="complaint_form"
    )

    assert said(dispatcher) == [
        {"response": "utter_handoff_beyond_authority"},
        {"response": "utter_handoff_unavailable"},
    ]
    assert events == CLOSES_THE_FORM


async def test_hand_off_reports_whether_the_ticket_is_kept(
    open_hours: Services, broken_outbox: WriteOutbox, domain: DomainDict
) -> None:
    tracker = make_tracker(text="转人工", intent="request_human")
    stored = await hand_off(CollectingDispatcher(), tracker, "user_request")

    install_services(open_hours, outbox=broken_outbox)
    failed = await hand_off(CollectingDispatcher(), tracker, "user_request")

    assert (stored.stored, failed.stored) == (True, False)
    assert not stored.agent_waiting  # the REST webhook relays no agent's reply


async def test_on_a_relayed_channel_without_an_agent_online_the_bot_goes_on(
    open_hours: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()

    events, dispatcher = await run_handoff(domain, conversation, "request_human", channel="widget")

    [record] = stored_records(records_client, conversation)
    assert said(dispatcher) == [
        {
            "response": "utter_handoff_no_agent_online",
            "ticket_id": record["details"]["ticket_id"],
            "due_at": (DESK_OPEN_AT + timedelta(minutes=30)).strftime("%m月%d日 %H:%M"),
        }
    ]
    assert events == CLOSES_THE_FORM  # not paused: nobody would answer


async def test_hand_off_without_announcement_says_nothing_while_queued(
    open_hours: Services, records_client: RecordsClient
) -> None:
    conversation = new_conversation_id()
    dispatcher = CollectingDispatcher()

    await hand_off(dispatcher, make_tracker(sender_id=conversation), "urgent", announce=False)

    assert said(dispatcher) == []
    assert [r["details"]["reason"] for r in stored_records(records_client, conversation)] == ["urgent"]


# ---- what the channel is told (service_common/channel_metadata.py): the phone line puts
# the call through with it, without reading the record service


def handoff_told(details: dict[str, Any], status: str, **changes: Any) -> dict[str, Any]:
    """The channel metadata of a message announcing the handoff of a stored record's `details`."""
    notice = {
        "ticket_id": details["ticket_id"],
        "status": status,
        "priority": details["priority"],
        "reason": details["reason"],
        "order_id": None,
        "summary": details["context"]["summary"],
        "callback_at": details["callback_at"],
    }
    return {"handoff": {**notice, **changes}}


async def test_the_message_announcing_a_queued_handoff_tells_the_channel_the_ticket(
    open_hours: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()

    _, dispatcher = await run_handoff(domain, conversation, "request_compensation")

    [record] = stored_records(records_client, conversation)
    assert told_channel(dispatcher) == [
        ("utter_handoff_beyond_authority", None),
        ("utter_handoff_queued_urgent", handoff_told(record["details"], "queued")),
    ]
    assert handoff_told(record["details"], "queued")["handoff"]["priority"] == 2


async def test_a_handoff_of_a_verified_order_tells_the_channel_the_order(
    open_hours: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()

    _, dispatcher = await run_handoff(domain, conversation, "request_human", slots=verified_slots("8800002002"))

    [record] = stored_records(records_client, conversation)
    assert told_channel(dispatcher) == [
        ("utter_handoff_queued", handoff_told(record["details"], "queued", order_id="8800002002")),
    ]


async def test_a_scheduled_callback_tells_the_channel_when_in_utc_as_the_record_service(
    action_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    install_services(action_services, clock=fixed_clock(beijing_today_at(23)))
    conversation = new_conversation_id()

    _, dispatcher = await run_handoff(domain, conversation, "request_human")

    [record] = stored_records(records_client, conversation)
    callback_at = (beijing_today_at(9) + timedelta(days=1)).astimezone(timezone.utc).isoformat()
    assert record["details"]["callback_at"] == callback_at
    assert told_channel(dispatcher) == [
        ("utter_handoff_callback", handoff_told(record["details"], "callback_scheduled")),
    ]


async def test_a_relayed_channel_without_an_agent_online_is_told_the_queued_ticket(
    open_hours: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()

    _, dispatcher = await run_handoff(domain, conversation, "request_human", channel="widget")

    [record] = stored_records(records_client, conversation)
    assert told_channel(dispatcher) == [
        ("utter_handoff_no_agent_online", handoff_told(record["details"], "queued")),
    ]


async def test_a_handoff_queued_while_the_record_service_is_down_tells_the_channel_all_the_same(
    open_hours: Services,
    down_records_client: RecordsClient,
    records_client: RecordsClient,
    domain: DomainDict,
) -> None:
    install_services(open_hours, records=down_records_client)
    conversation = new_conversation_id()

    _, dispatcher = await run_handoff(domain, conversation, "request_human")

    assert deliver_queued(open_hours, records_client, conversation) == 0
    [record] = stored_records(records_client, conversation)
    assert told_channel(dispatcher) == [("utter_handoff_queued", handoff_told(record["details"], "queued"))]


async def test_a_handoff_the_outbox_cannot_keep_tells_the_channel_nothing(
    open_hours: Services, broken_outbox: WriteOutbox, domain: DomainDict
) -> None:
    install_services(open_hours, outbox=broken_outbox)

    _, dispatcher = await run_handoff(domain, new_conversation_id(), "request_human")

    assert told_channel(dispatcher) == [("utter_handoff_unavailable", None)]
