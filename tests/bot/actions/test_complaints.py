"""Complaint intake (bot/actions/complaints.py) against the real record service."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.complaints import (
    ActionAskComplaintCategory,
    ActionAskComplaintDescription,
    ActionAskContactPhone,
    ActionCreateComplaint,
    ValidateComplaintForm,
    complaint_evidence,
    is_description,
    parse_category,
)
from bot.actions.order_client import OrderClient
from bot.actions.outbox import WriteOutbox
from bot.actions.records_client import RecordsClient
from bot.actions.services import Services
from tests.fixtures.actions import (
    BEIJING,
    deliver_queued,
    fixed_clock,
    form_tracker,
    install_services,
    make_tracker,
    new_conversation_id,
    said,
    stored_records,
    told_channel,
    verified_slots,
)
from tests.fixtures.servers import RunningService

FORM = "complaint_form"
DESCRIPTION = "快递员把包裹扔在门口还骂人"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # The answers the category question offers.
        ("商品质量", "product_quality"),
        ("服务态度", "service_attitude"),
        ("物流配送", "logistics"),
        ("系统故障", "system_failure"),
        ("商家问题", "merchant"),
        ("其他", "other"),
        # What shoppers say.
        ("快递员态度差", "logistics"),  # about delivery, though it names an attitude
        ("耳机有故障，用不了", "product_quality"),
        ("ａｐｐ一直闪退", "system_failure"),
        ("客服不理人", "service_attitude"),
        ("货不对板，虚假宣传", "merchant"),
        ("随便", None),
        ("", None),
    ],
)
def test_parse_category(text: str, category: str | None) -> None:
    assert parse_category(text) == category


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我要投诉！", False),
        ("我要投诉快递", False),  # says whom, not what happened
        ("投诉！！！", False),
        (DESCRIPTION, True),
        ("我要投诉，衣服洗一次就破了", True),
    ],
)
def test_is_description(text: str, expected: bool) -> None:
    assert is_description(text) is expected


async def validate(
    domain: DomainDict, candidates: dict[str, Any], **tracker_args: Any
) -> tuple[list[dict[str, Any]], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    tracker = form_tracker(FORM, candidates, **tracker_args)
    events = await ValidateComplaintForm().run(dispatcher, tracker, domain)
    return events, dispatcher


async def test_a_description_is_kept_and_names_the_category(
    action_services: Services, domain: DomainDict
) -> None:
    text = f"我要投诉！{DESCRIPTION}"

    events, dispatcher = await validate(domain, {"complaint_description": text}, text=text)

    assert events == [SlotSet("complaint_description", text), SlotSet("complaint_category", "logistics")]
    assert said(dispatcher) == []


async def test_a_description_does_not_change_a_category_already_given(
    action_services: Services, domain: DomainDict
) -> None:
    events, _ = await validate(
        domain, {"complaint_description": DESCRIPTION}, slots={"complaint_category": "service_attitude"}
    )

    assert events == [SlotSet("complaint_description", DESCRIPTION)]


async def test_a_wish_to_complain_without_what_happened_is_not_a_description(
    action_services: Services, domain: DomainDict
) -> None:
    events, dispatcher = await validate(domain, {"complaint_description": "我要投诉！"})

    # No message of its own: the form asks utter_ask_complaint_description next.
    assert events == [SlotSet("complaint_description", None)]
    assert said(dispatcher) == []


async def test_a_long_description_is_cut_to_what_the_ticket_holds(
    action_services: Services, domain: DomainDict
) -> None:
    text = "衣服质量太差洗一次就破了" * 200

    events, _ = await validate(domain, {"complaint_description": text})

    assert events == [
        SlotSet("complaint_description", text[:2000]),
        SlotSet("complaint_category", "product_quality"),
    ]


@pytest.mark.parametrize(
    ("value", "text", "category"),
    [
        ("服务态度", "服务态度", "service_attitude"),
        ("系统故障", "系统故障", "system_failure"),
        ("merchant", "就是那家店", "merchant"),  # a learned entity's value
        ("service_attitude", "快递员态度差", "logistics"),  # the words beat the entity
    ],
)
async def test_a_category_is_read_from_the_words_then_the_entity(
    value: str, text: str, category: str, action_services: Services, domain: DomainDict
) -> None:
    events, dispatcher = await validate(domain, {"complaint_category": value}, text=text)

    assert events == [SlotSet("complaint_category", category)]
    assert said(dispatcher) == []


async def test_an_unknown_category_is_left_to_be_asked_again(action_services: Services, domain: DomainDict) -> None:
    events, dispatcher = await validate(domain, {"complaint_category": "随便吧"}, text="随便吧")

    assert events == [SlotSet("complaint_category", None)]
    assert said(dispatcher) == []  # action_ask_complaint_category asks again, with the list


@pytest.mark.parametrize(
    "answer", ["13912345678", "我的电话是 139-1234-5678", "１３９１２３４５６７８", "幺三九一二三四五六七八"]
)
async def test_a_mobile_number_is_kept_as_eleven_digits(
    answer: str, action_services: Services, domain: DomainDict
) -> None:
    events, dispatcher = await validate(domain, {"contact_phone": answer})

    assert events == [SlotSet("contact_phone", "13912345678")]
    assert said(dispatcher) == []


@pytest.mark.parametrize("answer", ["12345", "010-12345678", "8800001001", "快递员态度太差了"])
async def test_anything_but_a_mobile_number_is_left_to_be_asked_again(
    answer: str, action_services: Services, domain: DomainDict
) -> None:
    events, dispatcher = await validate(domain, {"contact_phone": answer})

    assert events == [SlotSet("contact_phone", None)]
    assert said(dispatcher) == []  # action_ask_contact_phone asks again, saying why


@pytest.mark.parametrize(("answer", "intent"), [("不想留", "inform"), ("电话就不给了", "inform"), ("不要", "deny")])
async def test_a_shopper_who_declines_to_leave_a_number_is_not_asked_again(
    answer: str, intent: str, action_services: Services, domain: DomainDict
) -> None:
    events, dispatcher = await validate(domain, {"contact_phone": answer}, intent=intent)

    assert events == [
        SlotSet("contact_phone", None),
        SlotSet("contact_declined", True),
        SlotSet("requested_slot", "complaint_description"),  # this tracker has none yet
    ]
    assert said(dispatcher) == []


# ---- the ticket ---------------------------------------------------------------------------


def complaint_slots(**more: Any) -> dict[str, Any]:
    return {
        "complaint_description": DESCRIPTION,
        "complaint_category": "logistics",
        "contact_phone": "13912345678",
        **more,
    }


# What a filed complaint clears: the form's answers, for the next complaint.
COMPLAINT_CLEARED = [
    SlotSet("complaint_description", None),
    SlotSet("complaint_category", None),
    SlotSet("contact_declined", False),
]


async def create(
    domain: DomainDict, conversation: str, slots: dict[str, Any], message_id: str = "m1"
) -> tuple[list[dict[str, Any]], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        sender_id=conversation, slots=slots, text="13912345678", message_id=message_id, channel="wechat"
    )
    events = await ActionCreateComplaint().run(dispatcher, tracker, domain)
    return events, dispatcher


async def test_a_complaint_opens_a_ticket_with_a_deadline_within_24_hours(
    action_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    now = datetime.now(BEIJING).replace(microsecond=0)
    install_services(action_services, clock=fixed_clock(now))
    conversation = new_conversation_id()

    events, dispatcher = await create(domain, conversation, complaint_slots())

    [record] = stored_records(records_client, conversation)
    ticket_id = record["details"]["ticket_id"]
    due_at = datetime.fromisoformat(record["details"]["due_at"])
    assert due_at == now + timedelta(hours=24)
    created_at = datetime.fromisoformat(records_client.records_for(conversation)[0]["created_at"])
    assert timedelta(0) < due_at - created_at <= timedelta(hours=24)
    assert record == {
        "conversation_id": conversation,
        "kind": "complaint",
        "order_id": None,
        "outcome": "created",
        "rule": "COMPLAINT-24H",
        "details": {"ticket_id": ticket_id, "category": "logistics", "due_at": record["details"]["due_at"],
                    "evidence_count": 0},
    }
    due_local = due_at.astimezone(BEIJING)
    assert said(dispatcher) == [
        {
            "response": "utter_complaint_created",
            "ticket_id": ticket_id,
            "due_at": f"{due_local.month}月{due_local.day}日 {due_local:%H:%M}",
        }
    ]
    assert events == COMPLAINT_CLEARED


def _picture(media_id: str, evidence_for: str | None = "complaint") -> dict[str, Any]:
    return {"kind": "image", "channel": "wechat", "media_id": media_id, "url": f"http://mmbiz.qpic.cn/{media_id}",
            "received_at": "2026-11-23T08:00:00+00:00", "evidence_for": evidence_for}


def _user(*pictures: dict[str, Any]) -> dict[str, Any]:
    return {"event": "user", "text": "…", "metadata": {"attachments": list(pictures)}}


def test_evidence_is_the_pictures_of_the_latest_complaint_form_oldest_first() -> None:
    events = [
        {"event": "active_loop", "name": "complaint_form"},
        _user(_picture("earlier-complaint")),
        {"event": "active_loop", "name": None},
        _user(_picture("before", evidence_for=None)),
        {"event": "active_loop", "name": "complaint_form"},
        _user(_picture("first"), _picture("second")),
        {"event": "bot", "text": "请留下联系电话"},
        _user(_picture("third")),
        {"event": "user", "text": "13800138000", "metadata": {"attachments": "not a list"}},
    ]

    assert [item["media_id"] for item in complaint_evidence(events)] == ["first", "second", "third"]
    assert complaint_evidence(events)[0] == {
        "kind": "image", "channel": "wechat", "media_id": "first", "url": "http://mmbiz.qpic.cn/first",
        "received_at": "2026-11-23T08:00:00+00:00",
    }


def test_evidence_keeps_the_latest_nine_pictures() -> None:
    events = [{"event": "active_loop", "name": "complaint_form"}, *(_user(_picture(f"p{i}")) for i in range(12))]

    assert [item["media_id"] for item in complaint_evidence(events)] == [f"p{i}" for i in range(3, 12)]


async def test_the_pictures_sent_during_the_complaint_are_on_the_ticket(
    action_services: Services, records_client: RecordsClient, record_service: RunningService, domain: DomainDict
) -> None:
    conversation = new_conversation_id()
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        sender_id=conversation, slots=complaint_slots(), text="13912345678", channel="wechat",
        history=[{"event": "active_loop", "name": "complaint_form"}, _user(_picture("crack"))],
        metadata={"attachments": [_picture("box")]},
    )

    await ActionCreateComplaint().run(dispatcher, tracker, domain)

    [record] = stored_records(records_client, conversation)
    assert record["details"]["evidence_count"] == 2
    ticket = requests.get(f"{record_service.url}/api/complaints/{record['details']['ticket_id']}",
                          headers={"Authorization": f"Bearer {record_service.token}"}, timeout=10).json()
    assert [item["media_id"] for item in ticket["evidence"]] == ["crack", "box"]


async def test_a_retried_message_opens_one_ticket(
    action_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    now = datetime.now(BEIJING).replace(microsecond=0)
    install_services(action_services, clock=fixed_clock(now))
    conversation = new_conversation_id()

    _, first = await create(domain, conversation, complaint_slots())
    _, second = await create(domain, conversation, complaint_slots())

    assert said(first) == said(second)
    assert len(stored_records(records_client, conversation)) == 1


async def test_a_verified_order_is_linked_and_an_unverified_one_is_not(
    action_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    verified, unverified = new_conversation_id(), new_conversation_id()

    await create(domain, verified, complaint_slots(**verified_slots("8800001007")))
    await create(domain, unverified, complaint_slots(order_id="8800001007"))

    assert [r["order_id"] for r in stored_records(records_client, verified)] == ["8800001007"]
    assert [r["order_id"] for r in stored_records(records_client, unverified)] == [None]


async def test_a_complaint_without_a_category_is_filed_as_other(
    action_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()

    await create(domain, conversation, complaint_slots(complaint_category=None))

    assert [r["details"]["category"] for r in stored_records(records_client, conversation)] == ["other"]


async def test_a_complaint_filed_while_the_record_service_is_down_gets_its_number_at_once(
    action_services: Services,
    down_records_client: RecordsClient,
    records_client: RecordsClient,
    domain: DomainDict,
) -> None:
    install_services(action_services, records=down_records_client)
    conversation = new_conversation_id()

    events, dispatcher = await create(domain, conversation, complaint_slots())

    [told] = said(dispatcher)
    assert told["response"] == "utter_complaint_created"
    assert events == COMPLAINT_CLEARED
    assert stored_records(records_client, conversation) == []
    # The record service is back: the ticket it keeps is the one the shopper was told.
    assert deliver_queued(action_services, records_client, conversation) == 0
    [record] = stored_records(records_client, conversation)
    assert record["details"]["ticket_id"] == told["ticket_id"]
    ticket = records_client._get(f"/api/complaints/{told['ticket_id']}", operation="test")
    assert (ticket["category"], ticket["description"]) == ("logistics", DESCRIPTION)


async def test_a_retried_complaint_tells_the_number_of_the_first_try(
    action_services: Services, down_records_client: RecordsClient, domain: DomainDict
) -> None:
    install_services(action_services, records=down_records_client)
    conversation = new_conversation_id()

    _, first = await create(domain, conversation, complaint_slots())
    _, retried = await create(domain, conversation, complaint_slots())

    assert said(retried) == said(first)
    assert action_services.outbox.backlog().pending == 1


async def test_a_complaint_the_outbox_cannot_keep_is_not_announced(
    action_services: Services, broken_outbox: WriteOutbox, domain: DomainDict
) -> None:
    install_services(action_services, outbox=broken_outbox)

    events, dispatcher = await create(domain, new_conversation_id(), complaint_slots())

    assert said(dispatcher) == [{"response": "utter_records_unavailable"}]
    assert events == []


# ---- no contact number; an order still on its way -------------------------------------------


async def test_without_a_number_a_verified_order_s_phone_is_the_contact(
    action_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()
    slots = complaint_slots(contact_phone=None, contact_declined=True, **verified_slots("8800001001"))

    events, dispatcher = await create(domain, conversation, slots)

    [record] = stored_records(records_client, conversation)
    assert record["order_id"] == "8800001001"
    [message] = said(dispatcher)
    assert message["response"] == "utter_complaint_created_order_phone"
    assert message["order_id"] == "8800001001"
    assert SlotSet("contact_declined", False) in events


async def test_without_a_number_or_an_order_the_ticket_number_is_the_way_back(
    action_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()

    _, dispatcher = await create(domain, conversation, complaint_slots(contact_phone=None, contact_declined=True))

    [record] = stored_records(records_client, conversation)
    assert record["details"]["ticket_id"]
    assert [m["response"] for m in said(dispatcher)] == ["utter_complaint_created_no_phone"]


async def test_venting_about_an_order_on_its_way_also_says_where_it_is(
    action_services: Services, order_client: OrderClient, records_client: RecordsClient, domain: DomainDict
) -> None:
    order = order_client.get_order("8800001007")  # shipped, not yet delivered
    conversation = new_conversation_id()

    _, dispatcher = await create(domain, conversation, complaint_slots(**verified_slots("8800001007")))

    messages = said(dispatcher)
    assert [m["response"] for m in messages] == ["utter_complaint_order_in_flight", "utter_complaint_created"]
    assert messages[0]["status"] == "已发货，运输中"
    assert order.shipment is not None and order.shipment.tracking_number in messages[0]["shipment_note"]


def test_a_button_payload_is_never_a_description() -> None:
    assert not is_description('/file_complaint{"complaint_category": "logistics"}')
    assert is_description("你们这快递一个星期了还没到，用脚送的吗")


# ---- what the channel is told: pictures sent while a complaint question is open are evidence


@pytest.mark.parametrize(
    ("ask", "slot", "first", "again"),
    [
        (ActionAskComplaintDescription, "complaint_description", "utter_ask_complaint_description",
         "utter_ask_complaint_description_again"),
        (ActionAskComplaintCategory, "complaint_category", "utter_ask_complaint_category",
         "utter_ask_complaint_category_again"),
        (ActionAskContactPhone, "contact_phone", "utter_ask_contact_phone", "utter_ask_contact_phone_again"),
    ],
)
async def test_each_complaint_question_tells_the_channel_pictures_are_evidence(
    ask: type[ActionAskComplaintDescription], slot: str, first: str, again: str, domain: DomainDict
) -> None:
    asked_once = {"form_prompt": {"form": FORM, "slot": slot, "asked": 1, "activation": 1}}
    told = []
    for slots in ({}, asked_once):
        dispatcher = CollectingDispatcher()
        tracker = make_tracker(history=[{"event": "active_loop", "name": FORM}], slots=slots, active_loop=FORM)
        await ask().run(dispatcher, tracker, domain)
        told += told_channel(dispatcher)

    assert told == [(first, {"evidence_for": "complaint"}), (again, {"evidence_for": "complaint"})]


async def test_the_complaint_created_tells_the_channel_nothing(
    action_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    _, dispatcher = await create(domain, new_conversation_id(), complaint_slots())

    assert told_channel(dispatcher) == [("utter_complaint_created", None)]
