"""Identity before anything about an order (bot/actions/identity.py), against the real services.

The validation actions are run the way the action server runs them: a tracker whose
latest message the form extracted slot candidates from, a `CollectingDispatcher`, and
the domain. The acceptance orders' phones: C001 (8800001001) ends in 8000, C002
(8800001004) in 5678.
"""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.identity import ActionAskOrderId
from bot.actions.order_client import OrderClient
from bot.actions.orders import ValidateOrderStatusForm
from bot.actions.outbox import WriteOutbox
from bot.actions.records_client import RecordsClient
from bot.actions.refunds import ValidateRefundStatusForm
from bot.actions.returns import ValidateReturnForm
from bot.actions.services import Services
from tests.fixtures.actions import (
    beijing_today_at,
    deliver_queued,
    fixed_clock,
    form_tracker,
    install_services,
    make_tracker,
    new_conversation_id,
    said,
    stored_records,
)

FORM = "order_status_form"
ORDER = "8800001001"  # C001, phone 13800138000
PHONE_LAST4 = "8000"
# Wrong digits are an answer: the asking of the phone digits starts over (prompts.py).
ASKING_RESTARTED = SlotSet("form_prompt", {"form": FORM, "slot": "phone_last4", "asked": 0, "activation": 0})


def identity_record(conversation: str, outcome: str, **details: Any) -> dict[str, Any]:
    return {
        "conversation_id": conversation,
        "kind": "identity_check",
        "order_id": ORDER,
        "outcome": outcome,
        "rule": "IDENTITY-VERIFY",
        "details": details,
    }


async def validate(
    domain: DomainDict, candidates: dict[str, Any], **tracker_args: Any
) -> tuple[list[dict[str, Any]], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    tracker = form_tracker(FORM, candidates, **tracker_args)
    events = await ValidateOrderStatusForm().run(dispatcher, tracker, domain)
    return events, dispatcher


# ---- the order number ---------------------------------------------------------------


async def test_an_order_number_that_is_not_ten_digits_is_left_to_be_asked_again(
    action_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()

    events, dispatcher = await validate(domain, {"order_id": "订单号是12345"}, sender_id=conversation)

    assert events == [SlotSet("order_id", None)]
    assert said(dispatcher) == []  # action_ask_order_id asks again, saying where to find it
    assert stored_records(records_client, conversation) == []


async def test_an_unknown_order_number_is_named_and_asked_again(
    action_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()

    events, dispatcher = await validate(domain, {"order_id": "9999999999"}, sender_id=conversation)

    assert events == [SlotSet("order_id", None)]
    assert said(dispatcher) == [{"response": "utter_order_not_found", "order_id": "9999999999"}]
    assert stored_records(records_client, conversation) == []


@pytest.mark.parametrize(
    "answer",
    [
        "8800001001",
        "我的订单号是8800001001，麻烦查一下",
        "八八零零零零一零零一",  # spoken digits (voice input)
        "８８００００１００１",  # full-width digits
        "8800 0010 01",
    ],
)
async def test_a_known_order_number_is_kept_and_nothing_about_the_order_is_said(
    answer: str, action_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()

    events, dispatcher = await validate(domain, {"order_id": answer}, sender_id=conversation)

    # The form's domain slots are exactly the identity slots, so Rasa asks the next one.
    assert events == [SlotSet("order_id", ORDER)]
    assert said(dispatcher) == []
    assert stored_records(records_client, conversation) == []


async def test_the_return_form_asks_the_phone_digits_after_the_order_number(
    action_services: Services, domain: DomainDict
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = form_tracker("return_form", {"order_id": ORDER})

    events = await ValidateReturnForm().run(dispatcher, tracker, domain)

    assert events == [SlotSet("order_id", ORDER), SlotSet("requested_slot", "phone_last4")]
    assert said(dispatcher) == []


# ---- the phone digits ---------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    ["8000", "后四位是8000", "八零零零", "８０００", "8 0 0 0", "13800138000", "手机号138-0013-8000"],
)
async def test_the_right_phone_digits_verify_the_owner_and_are_recorded(
    answer: str, action_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()

    events, dispatcher = await validate(
        domain, {"phone_last4": answer}, slots={"order_id": ORDER}, sender_id=conversation
    )

    assert events == [
        SlotSet("phone_last4", PHONE_LAST4),
        SlotSet("verified_order_id", ORDER),
        SlotSet("identity_failures", 0),
        SlotSet("requested_slot", None),
    ]
    assert said(dispatcher) == []
    assert stored_records(records_client, conversation) == [
        identity_record(conversation, "verified", method="phone_last4")
    ]


async def test_wrong_phone_digits_are_counted_recorded_and_asked_again(
    action_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()

    events, dispatcher = await validate(
        domain, {"phone_last4": "1234"}, slots={"order_id": ORDER}, sender_id=conversation
    )

    assert events == [SlotSet("phone_last4", None), SlotSet("identity_failures", 1), ASKING_RESTARTED]
    assert said(dispatcher) == [{"response": "utter_identity_failed", "remaining": 2}]
    assert stored_records(records_client, conversation) == [
        identity_record(conversation, "failed", method="phone_last4", attempt=1, locked=False)
    ]


async def test_an_answer_without_four_digits_is_left_to_be_asked_again_without_counting(
    action_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()

    events, dispatcher = await validate(
        domain,
        {"phone_last4": "不记得了"},
        slots={"order_id": ORDER, "identity_failures": 1},
        sender_id=conversation,
    )

    assert events == [SlotSet("phone_last4", None)]
    assert said(dispatcher) == []  # action_ask_phone_last4 asks again, saying why
    assert stored_records(records_client, conversation) == []


async def test_the_third_failure_locks_identity_and_ends_the_form(
    action_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()
    failures: Any = 0
    turns = []
    for wrong in ("1111", "2222", "3333"):
        events, dispatcher = await validate(
            domain,
            {"phone_last4": wrong},
            slots={"order_id": ORDER, "identity_failures": failures},
            sender_id=conversation,
        )
        turns.append((events, said(dispatcher)))
        failures = next(e["value"] for e in events if e["name"] == "identity_failures")

    assert turns[1] == (
        [SlotSet("phone_last4", None), SlotSet("identity_failures", 2), ASKING_RESTARTED],
        [{"response": "utter_identity_failed", "remaining": 1}],
    )
    assert turns[2] == (
        [
            SlotSet("phone_last4", None),
            SlotSet("identity_failures", 3),
            SlotSet("identity_locked", True),
            SlotSet("form_aborted", True),
            SlotSet("requested_slot", None),
            SlotSet("requested_slot", None),  # the form's own "nothing left to ask"
        ],
        [{"response": "utter_identity_locked"}],
    )
    assert stored_records(records_client, conversation) == [
        identity_record(conversation, "failed", method="phone_last4", attempt=1, locked=False),
        identity_record(conversation, "failed", method="phone_last4", attempt=2, locked=False),
        identity_record(conversation, "failed", method="phone_last4", attempt=3, locked=True),
    ]


async def test_a_locked_conversation_validates_nothing_even_the_right_digits(
    action_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()

    events, dispatcher = await validate(
        domain,
        {"phone_last4": PHONE_LAST4},
        slots={"order_id": ORDER, "identity_failures": 3, "identity_locked": True},
        sender_id=conversation,
    )

    assert events == [SlotSet("requested_slot", None)]
    assert said(dispatcher) == []
    assert stored_records(records_client, conversation) == []


async def test_order_number_and_digits_in_one_message_verify_in_one_turn(
    action_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()
    dispatcher = CollectingDispatcher()
    tracker = form_tracker(
        "refund_status_form",
        {"order_id": "8800001004", "phone_last4": "5678"},
        text="订单8800001004，手机尾号5678",
        sender_id=conversation,
    )

    events = await ValidateRefundStatusForm().run(dispatcher, tracker, domain)

    assert events == [
        SlotSet("order_id", "8800001004"),
        SlotSet("phone_last4", "5678"),
        SlotSet("verified_order_id", "8800001004"),
        SlotSet("identity_failures", 0),
        SlotSet("requested_slot", None),
    ]
    assert said(dispatcher) == []
    assert [
        (r["kind"], r["order_id"], r["outcome"]) for r in stored_records(records_client, conversation)
    ] == [("identity_check", "8800001004", "verified")]


async def test_digits_given_with_an_unknown_order_are_not_checked(
    action_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()

    events, dispatcher = await validate(
        domain, {"order_id": "9999999999", "phone_last4": "8000"}, sender_id=conversation
    )

    assert events == [SlotSet("order_id", None), SlotSet("phone_last4", None)]
    assert said(dispatcher) == [{"response": "utter_order_not_found", "order_id": "9999999999"}]
    assert stored_records(records_client, conversation) == []


async def test_another_order_needs_its_own_owner_check(
    action_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()

    events, dispatcher = await validate(
        domain,
        {"order_id": "8800001004"},
        slots={"order_id": ORDER, "phone_last4": PHONE_LAST4, "verified_order_id": ORDER},
        sender_id=conversation,
    )

    assert events == [SlotSet("order_id", "8800001004"), SlotSet("phone_last4", None)]
    assert said(dispatcher) == []
    assert stored_records(records_client, conversation) == []


# ---- a trusted channel's account ------------------------------------------------------


async def test_a_trusted_channel_account_that_owns_the_order_verifies_without_digits(
    action_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()

    events, dispatcher = await validate(
        domain,
        {"order_id": ORDER},
        channel="wechat",
        metadata={"account": {"channel": "wechat", "account_id": "oWx_zhangwei_01"}},
        sender_id=conversation,
    )

    assert events == [
        SlotSet("order_id", ORDER),
        SlotSet("verified_order_id", ORDER),
        SlotSet("phone_last4", None),
        SlotSet("requested_slot", None),
    ]
    assert said(dispatcher) == []
    assert stored_records(records_client, conversation) == [
        identity_record(conversation, "verified", method="account")
    ]


@pytest.mark.parametrize("caller", ["13800138000", "+86 138-0013-8000"])
async def test_the_phone_lines_caller_id_that_is_the_orders_phone_verifies_as_caller_id(
    caller: str, action_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()

    events, dispatcher = await validate(
        domain,
        {"order_id": ORDER},
        channel="ivr",
        metadata={"account": {"channel": "phone", "account_id": caller}},
        sender_id=conversation,
    )

    assert events == [
        SlotSet("order_id", ORDER),
        SlotSet("verified_order_id", ORDER),
        SlotSet("phone_last4", None),
        SlotSet("requested_slot", None),
    ]
    assert said(dispatcher) == []
    assert stored_records(records_client, conversation) == [
        identity_record(conversation, "verified", method="caller_id")
    ]


@pytest.mark.parametrize(
    ("channel", "account"),
    [
        ("ivr", {"channel": "phone", "account_id": "13912345678"}),  # another customer's phone
        ("rest", {"channel": "phone", "account_id": "13800138000"}),  # anyone can claim it
    ],
)
async def test_a_caller_id_that_is_not_the_orders_phone_leaves_the_phone_check(
    channel: str,
    account: dict[str, str],
    action_services: Services,
    records_client: RecordsClient,
    domain: DomainDict,
) -> None:
    conversation = new_conversation_id()

    events, dispatcher = await validate(
        domain, {"order_id": ORDER}, channel=channel, metadata={"account": account}, sender_id=conversation
    )

    assert events == [SlotSet("order_id", ORDER)]
    assert said(dispatcher) == []
    assert stored_records(records_client, conversation) == []


@pytest.mark.parametrize(
    ("channel", "account"),
    [
        ("rest", {"channel": "wechat", "account_id": "oWx_zhangwei_01"}),  # anyone can claim it
        ("wechat", {"channel": "wechat", "account_id": "oWx_lina_02"}),  # another customer
        ("wechat", {"channel": "wechat", "account_id": "oWx_nobody"}),  # nobody's
        (
            "wecom",
            {"channel": "wecom", "account_id": "corp_zhangwei"},
        ),  # a channel the order system does not know
    ],
)
async def test_an_account_that_does_not_prove_ownership_leaves_the_phone_check(
    channel: str,
    account: dict[str, str],
    action_services: Services,
    records_client: RecordsClient,
    domain: DomainDict,
) -> None:
    conversation = new_conversation_id()

    events, dispatcher = await validate(
        domain, {"order_id": ORDER}, channel=channel, metadata={"account": account}, sender_id=conversation
    )

    assert events == [SlotSet("order_id", ORDER)]
    assert said(dispatcher) == []
    assert stored_records(records_client, conversation) == []


# ---- a service down -------------------------------------------------------------------


async def test_a_down_order_system_hands_over_and_ends_the_form(
    action_services: Services,
    down_order_client: OrderClient,
    records_client: RecordsClient,
    domain: DomainDict,
) -> None:
    install_services(action_services, orders=down_order_client, clock=fixed_clock(beijing_today_at(10)))
    conversation = new_conversation_id()

    events, dispatcher = await validate(domain, {"order_id": ORDER}, sender_id=conversation)

    records = stored_records(records_client, conversation)
    assert [(r["kind"], r["order_id"], r["outcome"], r["details"]["reason"]) for r in records] == [
        ("handoff", None, "queued", "system_error")
    ]
    assert events == [
        SlotSet("order_id", ORDER),
        SlotSet("form_aborted", True),
        SlotSet("requested_slot", None),
        SlotSet("requested_slot", None),
    ]
    assert said(dispatcher) == [
        {"response": "utter_service_unavailable"},
        {"response": "utter_handoff_queued", "ticket_id": records[0]["details"]["ticket_id"]},
    ]


async def test_a_down_order_system_while_checking_digits_ends_the_form_without_counting(
    action_services: Services,
    down_order_client: OrderClient,
    records_client: RecordsClient,
    domain: DomainDict,
) -> None:
    install_services(action_services, orders=down_order_client, clock=fixed_clock(beijing_today_at(10)))
    conversation = new_conversation_id()

    events, dispatcher = await validate(
        domain,
        {"phone_last4": "1234"},
        slots={"order_id": ORDER, "identity_failures": 2},
        sender_id=conversation,
    )

    assert events == [
        SlotSet("phone_last4", "1234"),
        SlotSet("form_aborted", True),
        SlotSet("requested_slot", None),
        SlotSet("requested_slot", None),
    ]
    records = stored_records(records_client, conversation)
    assert [(r["kind"], r["details"]["reason"]) for r in records] == [("handoff", "system_error")]
    assert [message["response"] for message in said(dispatcher)] == [
        "utter_service_unavailable",
        "utter_handoff_queued",
    ]


async def test_a_down_record_service_still_verifies_the_owner_and_records_it_later(
    action_services: Services,
    down_records_client: RecordsClient,
    records_client: RecordsClient,
    domain: DomainDict,
) -> None:
    install_services(action_services, records=down_records_client, clock=fixed_clock(beijing_today_at(10)))
    conversation = new_conversation_id()

    events, dispatcher = await validate(
        domain, {"phone_last4": PHONE_LAST4}, slots={"order_id": ORDER}, sender_id=conversation
    )

    assert events == [
        SlotSet("phone_last4", PHONE_LAST4),
        SlotSet("verified_order_id", ORDER),
        SlotSet("identity_failures", 0),
        SlotSet("requested_slot", None),
    ]
    assert said(dispatcher) == []
    assert deliver_queued(action_services, records_client, conversation) == 0
    assert [(r["kind"], r["outcome"]) for r in stored_records(records_client, conversation)] == [
        ("identity_check", "verified")
    ]


async def test_an_outbox_that_cannot_keep_the_check_does_not_verify_the_owner(
    action_services: Services,
    broken_outbox: WriteOutbox,
    domain: DomainDict,
) -> None:
    install_services(action_services, outbox=broken_outbox, clock=fixed_clock(beijing_today_at(10)))

    events, dispatcher = await validate(domain, {"phone_last4": PHONE_LAST4}, slots={"order_id": ORDER})

    # Not verified: no verified_order_id; the form ends and the shopper is told.
    assert events == [
        SlotSet("phone_last4", PHONE_LAST4),
        SlotSet("form_aborted", True),
        SlotSet("requested_slot", None),
        SlotSet("requested_slot", None),
    ]
    assert said(dispatcher) == [
        {"response": "utter_service_unavailable"},
        {"response": "utter_handoff_unavailable"},
    ]


# ---- which order: a known shopper picks from their latest ---------------------------------


async def test_a_known_shopper_is_offered_their_latest_orders(
    action_services: Services, order_client: OrderClient, domain: DomainDict
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        channel="wechat",
        metadata={"account": {"channel": "wechat", "account_id": "oWx_zhoumin_09"}},
        active_loop="return_form",
    )

    events = await ActionAskOrderId().run(dispatcher, tracker, domain)

    assert events == [SlotSet("form_prompt", {"form": "return_form", "slot": "order_id", "asked": 1, "activation": 0})]

    paid = order_client.get_order("8800009001").paid_at
    assert paid is not None
    (message,) = dispatcher.messages
    assert message["response"] == "utter_ask_order_id_recent"
    assert message["buttons"] == [
        {"title": f"8800009001 · 羊毛袜(3双装)、防风夹克 · {paid.month}月{paid.day}日", "payload": "8800009001"}
    ]


@pytest.mark.parametrize(
    ("channel", "account"),
    [
        ("rest", {"channel": "wechat", "account_id": "oWx_zhoumin_09"}),  # anyone can claim it
        ("wechat", {"channel": "wechat", "account_id": "oWx_nobody"}),  # nobody's
        ("wechat", None),  # no account at all
    ],
)
async def test_anyone_else_is_asked_for_the_order_number(
    channel: str, account: dict[str, str] | None, action_services: Services, domain: DomainDict
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(channel=channel, metadata={"account": account} if account else None)

    await ActionAskOrderId().run(dispatcher, tracker, domain)

    assert said(dispatcher) == [{"response": "utter_ask_order_id"}]


async def test_a_down_order_system_still_asks_for_the_order_number(
    action_services: Services, down_order_client: OrderClient, domain: DomainDict
) -> None:
    install_services(action_services, orders=down_order_client)
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        channel="wechat", metadata={"account": {"channel": "wechat", "account_id": "oWx_zhoumin_09"}}
    )

    await ActionAskOrderId().run(dispatcher, tracker, domain)

    assert said(dispatcher) == [{"response": "utter_ask_order_id"}]


async def test_digits_given_for_another_order_are_never_tried_on_the_next_one(
    action_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    # 8000 verified 8800001001 earlier; the shopper now names 8800001004 (C002, 5678).
    conversation = new_conversation_id()

    events, dispatcher = await validate(
        domain,
        {"phone_last4": PHONE_LAST4},
        slots={"order_id": "8800001004", "verified_order_id": ORDER},
        text="还有一单8800001004也帮我查查",
        sender_id=conversation,
    )

    assert events == [SlotSet("phone_last4", None)]
    assert said(dispatcher) == []
    assert stored_records(records_client, conversation) == []  # no failed attempt nobody made
