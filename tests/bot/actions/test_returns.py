"""Returns and exchanges (bot/actions/returns.py) against the real order system and record service.

The shared order system holds the acceptance orders and is only read here; the tests
that file a return use a private order system (`private_order_system`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.order_client import OrderClient
from bot.actions.outbox import WriteOutbox
from bot.actions.records_client import RecordsClient
from bot.actions.returns import (
    ActionAskReturnItem,
    ActionCheckReturnEligibility,
    ActionReplyToReturnOffer,
    ValidateReturnForm,
    chosen_item,
    item_named,
    parse_intact,
)
from bot.actions.services import Services
from tests.fixtures.actions import (
    BEIJING,
    FAST_RETRY,
    beijing_date,
    beijing_today_at,
    deliver_queued,
    fixed_clock,
    form_tracker,
    install_services,
    make_tracker,
    new_conversation_id,
    plus_days_date,
    said,
    stored_records,
    verified_slots,
)
from tests.fixtures.servers import RunningService

NOT_ELIGIBLE_EVENTS = [SlotSet("return_offer", None), SlotSet("item_intact", None), SlotSet("return_item", None)]
OFFER_CLOSED_EVENTS = [SlotSet("return_offer", None), SlotSet("return_item", None)]

# ---- reading "is it intact?" --------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "intact"),
    [
        ("没穿过，吊牌都还在", True),
        ("全新的没穿过", True),
        ("没用过", True),
        ("没拆开", True),
        ("还没激活", True),
        ("没有拆封", True),
        ("全新未拆封", True),
        ("完好", True),
        ("是的", True),
        ("嗯", True),  # a bare "yes" to "商品目前是否完好？"
        ("吊牌还在，没剪", True),
        ("没剪吊牌", True),
        ("没有破损", True),
        ("包装还在，没有划痕", True),
        ("配件都在", True),
        ("没戴过", True),
        ("拆封试了一次", False),
        ("吊牌剪了", False),
        ("穿过", False),
        ("穿了一次", False),
        ("已经用了", False),
        ("嗯，穿过一次", False),
        ("没穿过但是吊牌剪了", False),
        ("不是全新的", False),
        ("不完好", False),
        ("东西坏了", False),
        ("asdfgh", None),
        ("阿巴阿巴", None),
        ("不是", None),
        ("", None),
    ],
)
def test_parse_intact_reads_what_the_shopper_means(answer: str, intact: bool | None) -> None:
    assert parse_intact(answer) is intact


# ---- which item ---------------------------------------------------------------------


MULTI_ITEM_ORDER = "8800009001"  # tests/fixtures/orders/project_orders.yaml: socks and a jacket


def test_item_named_reads_a_name_a_place_or_a_sku(order_client: OrderClient) -> None:
    socks, jacket = order_client.get_order(MULTI_ITEM_ORDER).items
    order = order_client.get_order(MULTI_ITEM_ORDER)

    assert item_named(order, "夹克") == jacket
    assert item_named(order, "那件防风夹克") == jacket
    assert item_named(order, "羊毛袜") == socks
    assert item_named(order, "2") == jacket
    assert item_named(order, "第一个") == socks
    assert item_named(order, "第2件") == jacket
    assert item_named(order, "AP-JK-32") == jacket
    assert item_named(order, "3") is None
    assert item_named(order, "帽子") is None
    assert item_named(order, None) is None


def test_chosen_item_needs_no_question_for_one_line(order_client: OrderClient) -> None:
    order = order_client.get_order("8800001001")
    assert chosen_item(order, make_tracker()) == order.items[0]


def test_chosen_item_of_several_lines_is_the_picked_or_the_named_one(order_client: OrderClient) -> None:
    order = order_client.get_order(MULTI_ITEM_ORDER)
    socks, jacket = order.items
    named = make_tracker(text="我想退夹克", entities=[{"entity": "product", "value": "夹克"}])

    assert chosen_item(order, make_tracker()) is None
    assert chosen_item(order, make_tracker(slots={"return_item": "AP-SK-31"})) == socks
    assert chosen_item(order, named) == jacket


# ---- what the form asks ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("order_id", "next_slot"),
    [
        ("8800001001", "item_intact"),  # returnable if intact: the policy needs to know
        ("8800001002", None),  # window expired: intact or not changes nothing
        ("8800001003", None),  # customized
        ("8800001007", None),  # not delivered
    ],
)
async def test_item_intact_is_asked_only_when_the_policy_needs_it(
    order_id: str, next_slot: str | None, action_services: Services, domain: DomainDict
) -> None:
    dispatcher = CollectingDispatcher()
    last4 = verified_slots(order_id)["phone_last4"]
    tracker = form_tracker(
        "return_form", {"phone_last4": last4}, slots={"order_id": order_id, "request_kind": "return"}
    )

    events = await ValidateReturnForm().run(dispatcher, tracker, domain)

    assert events == [
        SlotSet("phone_last4", last4),
        SlotSet("verified_order_id", order_id),
        SlotSet("identity_failures", 0),
        SlotSet("requested_slot", next_slot),
    ]
    assert said(dispatcher) == []


async def test_an_order_of_several_lines_asks_which_item_first(
    action_services: Services, domain: DomainDict
) -> None:
    dispatcher = CollectingDispatcher()
    last4 = verified_slots(MULTI_ITEM_ORDER)["phone_last4"]
    tracker = form_tracker(
        "return_form", {"phone_last4": last4}, slots={"order_id": MULTI_ITEM_ORDER, "request_kind": "return"}
    )

    events = await ValidateReturnForm().run(dispatcher, tracker, domain)

    assert events[-1] == SlotSet("requested_slot", "return_item")
    assert said(dispatcher) == []


@pytest.mark.parametrize(("answer", "sku"), [("2", "AP-JK-32"), ("防风夹克", "AP-JK-32"), ("袜子", None)])
async def test_the_answer_to_which_item_is_stored_as_its_sku(
    answer: str, sku: str | None, action_services: Services, domain: DomainDict
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = form_tracker(
        "return_form",
        {"return_item": answer},
        slots={**verified_slots(MULTI_ITEM_ORDER), "request_kind": "return"},
    )

    events = await ValidateReturnForm().run(dispatcher, tracker, domain)

    if sku is None:  # "袜子" is not "羊毛袜(3双装)": asked again
        assert events == [SlotSet("return_item", None), SlotSet("requested_slot", "return_item")]
        assert said(dispatcher) == []  # action_ask_return_item asks again, with the list
    else:  # the jacket picked: is it intact? is the next question
        assert events == [SlotSet("return_item", sku), SlotSet("requested_slot", "item_intact")]
        assert said(dispatcher) == []


async def test_which_item_is_asked_with_a_button_per_line(action_services: Services, domain: DomainDict) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots={**verified_slots(MULTI_ITEM_ORDER)}, active_loop="return_form")

    events = await ActionAskReturnItem().run(dispatcher, tracker, domain)

    assert events == [SlotSet("form_prompt", {"form": "return_form", "slot": "return_item", "asked": 1, "activation": 0})]

    (message,) = dispatcher.messages
    assert message["response"] == "utter_ask_return_item"
    assert message["buttons"] == [
        {"title": "1. 羊毛袜(3双装)", "payload": "羊毛袜(3双装)"},
        {"title": "2. 防风夹克", "payload": "防风夹克"},
    ]


async def test_a_quality_issue_does_not_ask_whether_the_goods_are_intact(
    action_services: Services, domain: DomainDict
) -> None:
    tracker = form_tracker(
        "return_form",
        {"phone_last4": "8000"},
        slots={"order_id": "8800001001", "request_kind": "return", "quality_issue": True},
    )

    events = await ValidateReturnForm().run(CollectingDispatcher(), tracker, domain)

    assert events[-1] == SlotSet("requested_slot", None)


@pytest.mark.parametrize(("answer", "value"), [("没穿过，吊牌都还在", "yes"), ("吊牌剪了", "no")])
async def test_an_intact_answer_is_stored_as_yes_or_no(
    answer: str, value: str, action_services: Services, domain: DomainDict
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = form_tracker(
        "return_form",
        {"item_intact": answer},
        slots={**verified_slots("8800001001"), "request_kind": "return"},
    )

    events = await ValidateReturnForm().run(dispatcher, tracker, domain)

    assert events == [SlotSet("item_intact", value), SlotSet("requested_slot", None)]
    assert said(dispatcher) == []


async def test_an_unclear_intact_answer_is_left_to_be_asked_again(
    action_services: Services, domain: DomainDict
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = form_tracker(
        "return_form",
        {"item_intact": "asdfgh"},
        slots={**verified_slots("8800001001"), "request_kind": "return"},
    )

    events = await ValidateReturnForm().run(dispatcher, tracker, domain)

    assert events == [SlotSet("item_intact", None), SlotSet("requested_slot", "item_intact")]
    assert said(dispatcher) == []  # action_ask_item_intact asks again, saying why


# ---- the decision ---------------------------------------------------------------------


async def check(
    domain: DomainDict, order_id: str, conversation: str, **slots: Any
) -> tuple[list[dict[str, Any]], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        sender_id=conversation,
        slots={**verified_slots(order_id), "request_kind": "return", "quality_issue": False, **slots},
        text="我想退货",
        intent="request_return",
        latest_action_name="return_form",
    )
    events = await ActionCheckReturnEligibility().run(dispatcher, tracker, domain)
    return events, dispatcher


def eligibility_record(
    conversation: str, order_id: str, outcome: str, rule: str, details: dict[str, Any]
) -> dict[str, Any]:
    return {
        "conversation_id": conversation,
        "kind": "return_eligibility",
        "order_id": order_id,
        "outcome": outcome,
        "rule": rule,
        "details": details,
    }


async def test_an_intact_item_within_seven_days_is_returnable_and_the_shopper_pays_shipping(
    action_services: Services, order_client: OrderClient, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()
    delivered_at = order_client.get_order("8800001001").delivered_at
    assert delivered_at is not None
    signed_on = delivered_at.astimezone(BEIJING).date()

    events, dispatcher = await check(domain, "8800001001", conversation, item_intact="yes")

    assert stored_records(records_client, conversation) == [
        eligibility_record(
            conversation,
            "8800001001",
            "eligible",
            "RET-7D-WINDOW",
            {
                "order_id": "8800001001",
                "sku": "AP-TS-01",
                "signed_on": signed_on.isoformat(),
                "deadline": (signed_on + timedelta(days=7)).isoformat(),
                "shipping_paid_by": "consumer",
                "shipping_basis": "default",
                "shipping_rule": "SHIPPING-PAYER",
                "reason": "within_window",
            },
        )
    ]
    assert said(dispatcher) == [
        {
            "response": "utter_return_eligible",
            "order_id": "8800001001",
            "item_name": "纯棉圆领T恤",
            "deadline": plus_days_date(delivered_at, 7),
            "shipping_payer": "您",
        }
    ]
    assert events == [SlotSet("return_offer", "eligible"), SlotSet("item_intact", None)]


async def test_an_item_that_is_not_intact_is_not_returnable_without_reason(
    action_services: Services, order_client: OrderClient, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()

    events, dispatcher = await check(domain, "8800001001", conversation, item_intact="no")

    records = stored_records(records_client, conversation)
    assert [(r["outcome"], r["rule"], r["details"]["reason"]) for r in records] == [
        ("not_eligible", "RET-INTACT", "not_intact")
    ]
    assert said(dispatcher) == [{"response": "utter_return_not_eligible_not_intact"}]
    assert events == NOT_ELIGIBLE_EVENTS


EXCLUSIONS = [
    (
        "8800001003",
        "GF-ENG-03",
        "刻字保温杯(定制)",
        "RET-EXCL-CUSTOMIZED",
        "customized",
        "按您的要求定制的商品",
    ),
    ("8800001004", "FR-CHY-04", "智利车厘子2斤装", "RET-EXCL-PERISHABLE", "perishable", "鲜活易腐商品"),
    (
        "8800001005",
        "SW-OFF-05",
        "办公软件激活码(电子版)",
        "RET-EXCL-DIGITAL",
        "digital_download",
        "在线下载或已拆封的数字商品",
    ),
    (
        "8800001006",
        "BT-LIP-06",
        "丝绒口红(已拆封不退)",
        "RET-EXCL-CONFIRMED",
        "confirmed_non_returnable",
        "下单时已确认“不支持七天无理由退货”的商品",
    ),
]


@pytest.mark.parametrize(("order_id", "sku", "item_name", "rule", "reason", "exclusion"), EXCLUSIONS)
async def test_excluded_goods_are_not_returnable_without_reason(
    order_id: str,
    sku: str,
    item_name: str,
    rule: str,
    reason: str,
    exclusion: str,
    action_services: Services,
    order_client: OrderClient,
    records_client: RecordsClient,
    domain: DomainDict,
) -> None:
    conversation = new_conversation_id()
    delivered_at = order_client.get_order(order_id).delivered_at
    assert delivered_at is not None

    events, dispatcher = await check(domain, order_id, conversation)

    assert stored_records(records_client, conversation) == [
        eligibility_record(
            conversation,
            order_id,
            "not_eligible",
            rule,
            {
                "order_id": order_id,
                "sku": sku,
                "signed_on": delivered_at.astimezone(BEIJING).date().isoformat(),
                "item_flag": reason,
                "reason": reason,
            },
        )
    ]
    assert said(dispatcher) == [
        {
            "response": "utter_return_not_eligible_excluded",
            "exclusion": exclusion,
            "order_id": order_id,
            "item_name": item_name,
            "deadline": "",
        }
    ]
    assert events == NOT_ELIGIBLE_EVENTS


async def test_after_seven_days_the_window_has_expired(
    action_services: Services, order_client: OrderClient, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()
    delivered_at = order_client.get_order("8800001002").delivered_at
    assert delivered_at is not None
    signed_on = delivered_at.astimezone(BEIJING).date()

    events, dispatcher = await check(domain, "8800001002", conversation)

    assert stored_records(records_client, conversation) == [
        eligibility_record(
            conversation,
            "8800001002",
            "not_eligible",
            "RET-7D-WINDOW",
            {
                "order_id": "8800001002",
                "sku": "SH-RUN-02",
                "signed_on": signed_on.isoformat(),
                "deadline": (signed_on + timedelta(days=7)).isoformat(),
                "reason": "window_expired",
            },
        )
    ]
    assert said(dispatcher) == [
        {
            "response": "utter_return_not_eligible_window",
            "signed_on": beijing_date(delivered_at),
            "order_id": "8800001002",
            "item_name": "轻跑运动鞋",
            "deadline": plus_days_date(delivered_at, 7),
        }
    ]
    assert events == NOT_ELIGIBLE_EVENTS


async def test_an_order_still_on_its_way_cannot_be_returned_yet(
    action_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()

    events, dispatcher = await check(domain, "8800001007", conversation)

    assert stored_records(records_client, conversation) == [
        eligibility_record(
            conversation,
            "8800001007",
            "not_eligible",
            "RET-NOT-DELIVERED",
            {
                "order_id": "8800001007",
                "sku": "EL-HP-07",
                "order_status": "shipped",
                "options": ["refuse_delivery"],
                "reason": "not_delivered",
            },
        )
    ]
    assert said(dispatcher) == [{"response": "utter_return_not_delivered_shipped", "order_id": "8800001007"}]
    assert events == NOT_ELIGIBLE_EVENTS


async def test_a_quality_problem_on_excluded_goods_offers_return_exchange_and_repair(
    action_services: Services, order_client: OrderClient, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()
    delivered_at = order_client.get_order("8800001003").delivered_at
    assert delivered_at is not None

    events, dispatcher = await check(domain, "8800001003", conversation, quality_issue=True)

    records = stored_records(records_client, conversation)
    assert [
        (r["outcome"], r["rule"], r["details"]["reason"], r["details"]["shipping_paid_by"]) for r in records
    ] == [("eligible", "QUALITY-RETURN", "quality_issue", "merchant")]
    assert said(dispatcher) == [
        {
            "response": "utter_return_eligible_quality",
            "remedies": "退货、换货、维修",
            "order_id": "8800001003",
            "item_name": "刻字保温杯(定制)",
            "deadline": plus_days_date(delivered_at, 15),
        }
    ]
    assert events == [SlotSet("return_offer", "eligible"), SlotSet("item_intact", None)]


async def test_a_quality_problem_after_seven_days_offers_exchange_or_repair_but_no_return(
    action_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()

    events, dispatcher = await check(domain, "8800001002", conversation, quality_issue=True)

    assert [m["response"] for m in said(dispatcher)] == ["utter_return_eligible_quality"]
    assert said(dispatcher)[0]["remedies"] == "换货、维修"
    assert [r["details"]["remedies"] for r in stored_records(records_client, conversation)] == [
        ["exchange", "repair"]
    ]
    assert events == NOT_ELIGIBLE_EVENTS


async def test_an_exchange_is_explained_without_offering_a_return(
    action_services: Services, order_client: OrderClient, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()
    delivered_at = order_client.get_order("8800001001").delivered_at
    assert delivered_at is not None

    events, dispatcher = await check(
        domain, "8800001001", conversation, item_intact="yes", request_kind="exchange"
    )

    assert [(r["outcome"], r["rule"]) for r in stored_records(records_client, conversation)] == [
        ("eligible", "EXCHANGE-NON-QUALITY")
    ]
    assert said(dispatcher) == [
        {
            "response": "utter_exchange_eligible",
            "shipping_payer": "您",
            "order_id": "8800001001",
            "item_name": "纯棉圆领T恤",
            "deadline": plus_days_date(delivered_at, 7),
        }
    ]
    assert events == NOT_ELIGIBLE_EVENTS


async def test_nothing_is_decided_for_an_order_whose_owner_is_not_verified(
    action_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        sender_id=conversation, slots={"order_id": "8800001001", "phone_last4": "1234", "item_intact": "yes"}
    )

    events = await ActionCheckReturnEligibility().run(dispatcher, tracker, domain)

    assert events == []
    assert said(dispatcher) == []
    assert stored_records(records_client, conversation) == []


async def test_an_aborted_form_is_only_reset(
    action_services: Services, records_client: RecordsClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        sender_id=conversation, slots={**verified_slots("8800001001"), "form_aborted": True}
    )

    events = await ActionCheckReturnEligibility().run(dispatcher, tracker, domain)

    assert events == [SlotSet("form_aborted", False)]
    assert said(dispatcher) == []
    assert stored_records(records_client, conversation) == []


async def test_a_down_order_system_is_said_and_handed_over(
    action_services: Services,
    down_order_client: OrderClient,
    records_client: RecordsClient,
    domain: DomainDict,
) -> None:
    install_services(action_services, orders=down_order_client, clock=fixed_clock(beijing_today_at(10)))
    conversation = new_conversation_id()

    events, dispatcher = await check(domain, "8800001001", conversation, item_intact="yes")

    records = stored_records(records_client, conversation)
    assert [(r["kind"], r["order_id"], r["outcome"], r["details"]["reason"]) for r in records] == [
        ("handoff", None, "queued", "system_error")
    ]
    assert said(dispatcher) == [
        {"response": "utter_service_unavailable"},
        {"response": "utter_handoff_queued", "ticket_id": records[0]["details"]["ticket_id"]},
    ]
    assert events == []


async def test_a_down_record_service_changes_nothing_the_shopper_is_told(
    action_services: Services,
    down_records_client: RecordsClient,
    records_client: RecordsClient,
    domain: DomainDict,
) -> None:
    up, down = new_conversation_id(), new_conversation_id()
    up_events, told_up = await check(domain, "8800001001", up, item_intact="yes")
    install_services(action_services, records=down_records_client)

    events, told_down = await check(domain, "8800001001", down, item_intact="yes")

    assert (events, said(told_down)) == (up_events, said(told_up))
    assert stored_records(records_client, down) == []
    assert deliver_queued(action_services, records_client, down) == 0
    assert stored_records(records_client, down) == [
        {**record, "conversation_id": down} for record in stored_records(records_client, up)
    ]


async def test_a_decision_the_outbox_cannot_keep_is_not_announced(
    action_services: Services, broken_outbox: WriteOutbox, domain: DomainDict
) -> None:
    install_services(action_services, outbox=broken_outbox)

    events, dispatcher = await check(domain, "8800001001", new_conversation_id(), item_intact="yes")

    assert said(dispatcher) == [{"response": "utter_records_unavailable"}]
    assert events == []


# ---- the shopper's answer to the offer (private order system: returns are filed) -----------


@pytest.fixture
def private_orders(action_services: Services, private_order_system: RunningService) -> OrderClient:
    client = OrderClient(private_order_system.url, private_order_system.token, retry=FAST_RETRY)
    install_services(action_services, orders=client)
    return client


async def reply(
    domain: DomainDict, order_id: str, intent: str, conversation: str, message_id: str, **slots: Any
) -> tuple[list[dict[str, Any]], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        sender_id=conversation,
        slots={**verified_slots(order_id), "return_offer": "eligible", **slots},
        text="好的" if intent == "affirm" else "不用了",
        intent=intent,
        message_id=message_id,
    )
    events = await ActionReplyToReturnOffer().run(dispatcher, tracker, domain)
    return events, dispatcher


async def test_yes_files_the_return_once_and_a_second_yes_names_the_existing_one(
    private_orders: OrderClient, domain: DomainDict
) -> None:
    conversation = new_conversation_id()

    events, dispatcher = await reply(domain, "8800001001", "affirm", conversation, "m1")
    returns = private_orders.list_returns("8800001001")
    assert [(r.skus, r.return_type, r.reason, r.quality_issue) for r in returns] == [
        (("AP-TS-01",), "return", "七天无理由退货", False)
    ]
    assert said(dispatcher) == [{"response": "utter_return_created", "return_id": returns[0].return_id}]
    assert events == OFFER_CLOSED_EVENTS

    # The same message retried (the action server resent it): the same return, not a second.
    _, retried = await reply(domain, "8800001001", "affirm", conversation, "m1")
    assert said(retried) == [{"response": "utter_return_created", "return_id": returns[0].return_id}]

    # Another "yes" later, in a new conversation: the return exists already.
    events, again = await reply(domain, "8800001001", "affirm", new_conversation_id(), "m2")
    assert said(again) == [{"response": "utter_return_exists", "return_id": returns[0].return_id}]
    assert events == OFFER_CLOSED_EVENTS
    assert len(private_orders.list_returns("8800001001")) == 1


async def test_yes_to_a_quality_offer_files_a_quality_return(
    private_orders: OrderClient, domain: DomainDict
) -> None:
    _, dispatcher = await reply(
        domain, "8800001003", "affirm", new_conversation_id(), "m1", quality_issue=True
    )

    returns = private_orders.list_returns("8800001003")
    assert [(r.skus, r.reason, r.quality_issue) for r in returns] == [(("GF-ENG-03",), "质量问题", True)]
    assert said(dispatcher) == [{"response": "utter_return_created", "return_id": returns[0].return_id}]


async def test_no_files_nothing(private_orders: OrderClient, domain: DomainDict) -> None:
    events, dispatcher = await reply(domain, "8800001004", "deny", new_conversation_id(), "m1")

    assert said(dispatcher) == [{"response": "utter_return_not_filed"}]
    assert events == OFFER_CLOSED_EVENTS
    assert private_orders.list_returns("8800001004") == []


async def test_yes_without_a_verified_owner_files_nothing(
    private_orders: OrderClient, domain: DomainDict
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots={"order_id": "8800001006", "return_offer": "eligible"}, intent="affirm")

    events = await ActionReplyToReturnOffer().run(dispatcher, tracker, domain)

    assert said(dispatcher) == [{"response": "utter_anything_else"}]
    assert events == OFFER_CLOSED_EVENTS
    assert private_orders.list_returns("8800001006") == []


async def test_yes_with_the_order_system_down_is_said_and_handed_over(
    action_services: Services,
    down_order_client: OrderClient,
    records_client: RecordsClient,
    domain: DomainDict,
) -> None:
    install_services(action_services, orders=down_order_client, clock=fixed_clock(beijing_today_at(10)))
    conversation = new_conversation_id()

    events, dispatcher = await reply(domain, "8800001001", "affirm", conversation, "m1")

    records = stored_records(records_client, conversation)
    assert [(r["kind"], r["details"]["reason"]) for r in records] == [("handoff", "system_error")]
    assert [m["response"] for m in said(dispatcher)] == ["utter_service_unavailable", "utter_handoff_queued"]
    assert events == OFFER_CLOSED_EVENTS


async def test_a_yes_button_payload_without_an_intent_ranking_files_the_return(
    private_orders: OrderClient, domain: DomainDict
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        slots={**verified_slots("8800003001"), "return_offer": "eligible"},
        text="/affirm",
        intent="affirm",
        intent_ranking=[],  # Rasa's payload handler sets the intent but no ranking
    )

    await ActionReplyToReturnOffer().run(dispatcher, tracker, domain)

    returns = private_orders.list_returns("8800003001")
    assert said(dispatcher) == [{"response": "utter_return_created", "return_id": returns[0].return_id}]
