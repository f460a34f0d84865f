"""Rules questions (bot/actions/rules_questions.py): for the shopper's own order when known."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.rules_questions import ActionAnswerRulesQuestion, question_topic
from bot.actions.services import Services
from tests.fixtures.actions import make_tracker, said, verified_slots


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("退货运费谁出？", "shipping"),
        ("快递费是我自己出吗", "shipping"),
        ("大件的怎么寄回去啊 要自己打包吗", "parcel"),
        ("退货用哪家快递", "parcel"),
        ("退款一般多久到账", "refund_time"),
        ("拆了包装还能退吗", None),
    ],
)
def test_the_topic_of_a_rules_question_is_read_from_its_words(text: str, topic: str | None) -> None:
    assert question_topic(text) == topic


async def ask(domain: DomainDict, text: str, **tracker_args: object) -> CollectingDispatcher:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(text=text, intent="ask_return_policy", **tracker_args)  # type: ignore[arg-type]
    assert await ActionAnswerRulesQuestion().run(dispatcher, tracker, domain) == []
    return dispatcher


async def test_who_pays_during_a_verified_return_is_answered_for_that_order(
    action_services: Services, domain: DomainDict
) -> None:
    # 8800001001: a T-shirt signed for three days ago, no shipping insurance.
    dispatcher = await ask(
        domain, "退货运费谁出？", slots={**verified_slots("8800001001"), "request_kind": "return"},
        active_loop="return_form",
    )

    [message] = said(dispatcher)
    assert message["response"] == "utter_rules_for_order_eligible"
    assert (message["order_id"], message["shipping_payer"]) == ("8800001001", "您")
    assert message["deadline"].endswith("日")


async def test_an_order_that_cannot_be_returned_says_why(action_services: Services, domain: DomainDict) -> None:
    # 8800001002: shoes signed for ten days ago.
    dispatcher = await ask(domain, "这双还能退吗", slots=verified_slots("8800001002"))

    [message] = said(dispatcher)
    assert (message["response"], message["why"]) == ("utter_rules_for_order_not_eligible", "签收已经超过 7 天")


async def test_without_a_verified_order_the_topic_is_answered(action_services: Services, domain: DomainDict) -> None:
    dispatcher = await ask(domain, "退货运费谁出？", slots={"order_id": "8800001001"})  # not verified

    assert said(dispatcher) == [{"response": "utter_rules_return_shipping"}]


async def test_packing_is_answered_even_for_a_known_order(action_services: Services, domain: DomainDict) -> None:
    dispatcher = await ask(domain, "大件的怎么打包寄回", slots=verified_slots("8800001001"))

    assert said(dispatcher) == [{"response": "utter_rules_return_parcel"}]


async def test_a_general_question_inside_a_task_does_not_ask_for_an_order_number(
    action_services: Services, domain: DomainDict
) -> None:
    dispatcher = await ask(domain, "你们的退货规则是啥", active_loop="order_status_form")

    assert said(dispatcher) == [{"response": "utter_return_policy_brief"}]
    assert "订单号" not in domain["responses"]["utter_return_policy_brief"][0]["text"]


async def test_a_general_question_on_its_own_offers_to_check_an_order(
    action_services: Services, domain: DomainDict
) -> None:
    dispatcher = await ask(domain, "你们的退货规则是啥")

    assert said(dispatcher) == [{"response": "utter_return_policy"}]
