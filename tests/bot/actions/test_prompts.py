"""A form's questions asked at most twice (bot/actions/prompts.py), through the real forms.

The ask actions say the question plainly, then with why and what else; the form
validations give a question up after the second unusable answer, or when the shopper
talked about something else twice: a person for an order's identity, the shopper's own
words, "other" or no number for a complaint.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.complaints import ActionAskContactPhone, ValidateComplaintForm
from bot.actions.identity import ActionAskPhoneLast4
from bot.actions.orders import ValidateOrderStatusForm
from bot.actions.prompts import (
    activation_number,
    form_already_spoke,
    form_returns_after_a_digression,
    times_asked,
)
from bot.actions.services import Services
from tests.fixtures.actions import bot_event, form_tracker, make_tracker, said, stored_records, user_event

ORDER_FORM = "order_status_form"
ORDER = "8800001001"  # C001, phone digits 8000


def activated(form: str) -> dict[str, Any]:
    """The event that starts `form`."""
    return {"event": "active_loop", "name": form, "timestamp": None}


def action(name: str) -> dict[str, Any]:
    return {"event": "action", "name": name, "timestamp": None, "policy": None, "confidence": 1.0}


def prompt(form: str, slot: str, asked: int, activation: int = 1) -> dict[str, Any]:
    """The `form_prompt` slot after `slot` was asked `asked` times."""
    return {"form": form, "slot": slot, "asked": asked, "activation": activation}


# ---- counting ------------------------------------------------------------------------------


def test_a_question_is_counted_within_one_activation_of_its_form() -> None:
    tracker = make_tracker(
        history=[activated(ORDER_FORM)],
        slots={"form_prompt": prompt(ORDER_FORM, "phone_last4", 1)},
        active_loop=ORDER_FORM,
    )

    assert activation_number(tracker, ORDER_FORM) == 1
    assert times_asked(tracker, "phone_last4") == 1
    assert times_asked(tracker, "order_id") == 0  # another question starts from nothing


def test_a_form_started_again_asks_from_the_first_wording() -> None:
    tracker = make_tracker(
        history=[activated(ORDER_FORM), activated(""), activated(ORDER_FORM)],
        slots={"form_prompt": prompt(ORDER_FORM, "phone_last4", 2, activation=1)},
        active_loop=ORDER_FORM,
    )

    assert times_asked(tracker, "phone_last4") == 0


def test_the_form_knows_when_it_comes_back_after_something_else_answered() -> None:
    straight = make_tracker(history=[], active_loop=ORDER_FORM)
    straight.events.extend([action("action_extract_slots"), action(ORDER_FORM)])
    after_digression = make_tracker(history=[], active_loop=ORDER_FORM)
    after_digression.events.extend([action("utter_chitchat"), bot_event("谢谢关心"), action(ORDER_FORM)])

    assert not form_returns_after_a_digression(straight, ORDER_FORM)
    assert form_returns_after_a_digression(after_digression, ORDER_FORM)


def test_a_validation_that_spoke_has_already_asked() -> None:
    silent = make_tracker(active_loop=ORDER_FORM)
    silent.events.append(action(ORDER_FORM))
    spoke = make_tracker(active_loop=ORDER_FORM)
    spoke.events.extend([action(ORDER_FORM), bot_event("手机号后四位与订单信息不一致")])

    assert not form_already_spoke(silent)
    assert form_already_spoke(spoke)


# ---- asking --------------------------------------------------------------------------------


async def test_the_first_ask_is_plain_and_the_second_says_why(domain: DomainDict) -> None:
    turns = []
    state = None
    for _ in range(2):
        dispatcher = CollectingDispatcher()
        tracker = make_tracker(history=[activated(ORDER_FORM)], slots={"form_prompt": state}, active_loop=ORDER_FORM)
        events = await ActionAskPhoneLast4().run(dispatcher, tracker, domain)
        state = events[0]["value"]
        turns.append((said(dispatcher), events))

    assert turns == [
        ([{"response": "utter_ask_phone_last4"}], [SlotSet("form_prompt", prompt(ORDER_FORM, "phone_last4", 1))]),
        ([{"response": "utter_ask_phone_last4_again"}], [SlotSet("form_prompt", prompt(ORDER_FORM, "phone_last4", 2))]),
    ]


async def test_the_ask_is_silent_when_the_validation_already_asked(domain: DomainDict) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(history=[activated(ORDER_FORM)], active_loop=ORDER_FORM)
    tracker.events.extend([action(ORDER_FORM), bot_event("还可以再试2次")])

    events = await ActionAskPhoneLast4().run(dispatcher, tracker, domain)

    assert said(dispatcher) == []
    assert events == [SlotSet("form_prompt", prompt(ORDER_FORM, "phone_last4", 1))]


async def test_the_example_in_a_question_is_never_a_valid_answer(domain: DomainDict) -> None:
    # Was "例如“8000”": the real last four digits of a demo customer.
    texts = [domain["responses"][name][0]["text"] for name in ("utter_ask_phone_last4", "utter_ask_phone_last4_again")]

    assert all("8000" not in text and "例如" not in text for text in texts)


# ---- giving up -----------------------------------------------------------------------------


async def test_phone_digits_asked_twice_without_an_answer_go_to_a_person(
    open_hours: Services, domain: DomainDict
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = form_tracker(
        ORDER_FORM,
        {"phone_last4": "这个熨斗我就用了一次就不加热了"},
        slots={"order_id": ORDER, "form_prompt": prompt(ORDER_FORM, "phone_last4", 2)},
        history=[activated(ORDER_FORM)],
    )

    events = await ValidateOrderStatusForm().run(dispatcher, tracker, domain)

    assert events == [
        SlotSet("phone_last4", None),
        SlotSet("form_aborted", True),
        SlotSet("requested_slot", None),
        SlotSet("form_prompt", None),
        SlotSet("requested_slot", None),  # the form's own "nothing left to ask"
    ]
    assert [m["response"] for m in said(dispatcher)] == ["utter_question_handed_over", "utter_handoff_queued"]
    [handoff] = stored_records(open_hours.records, tracker.sender_id)
    assert (handoff["kind"], handoff["details"]["reason"]) == ("handoff", "repeated_failure")


async def test_one_unusable_answer_is_asked_again_not_given_up(action_services: Services, domain: DomainDict) -> None:
    dispatcher = CollectingDispatcher()
    tracker = form_tracker(
        ORDER_FORM,
        {"phone_last4": "不知道啊"},
        slots={"order_id": ORDER, "form_prompt": prompt(ORDER_FORM, "phone_last4", 1)},
        history=[activated(ORDER_FORM)],
    )

    events = await ValidateOrderStatusForm().run(dispatcher, tracker, domain)

    assert events == [SlotSet("phone_last4", None)]
    assert said(dispatcher) == []
    assert stored_records(action_services.records, tracker.sender_id) == []


async def test_a_message_that_fills_nothing_is_left_for_its_own_rule(
    action_services: Services, domain: DomainDict
) -> None:
    # "运费谁出？" asked instead of the digits: the form must reject it so that the rule
    # for rules questions answers, even at the question's last asking.
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        text="运费谁出？",
        intent="ask_return_policy",
        slots={"order_id": ORDER, "requested_slot": "phone_last4",
               "form_prompt": prompt(ORDER_FORM, "phone_last4", 2)},
        history=[activated(ORDER_FORM)],
        active_loop=ORDER_FORM,
    )

    events = await ValidateOrderStatusForm().run(dispatcher, tracker, domain)

    assert events == []  # nothing filled: Rasa rejects the form and the rule answers
    assert said(dispatcher) == []


async def test_a_question_ignored_twice_is_given_up_when_the_form_comes_back(
    open_hours: Services, domain: DomainDict
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        text="你们是哪里发货的",
        intent="out_of_scope",
        slots={"order_id": ORDER, "requested_slot": "phone_last4",
               "form_prompt": prompt(ORDER_FORM, "phone_last4", 2)},
        history=[activated(ORDER_FORM)],
        active_loop=ORDER_FORM,
    )
    tracker.events.extend([action("utter_out_of_scope"), bot_event("这个问题我这里答不了"), action(ORDER_FORM)])

    events = await ValidateOrderStatusForm().run(dispatcher, tracker, domain)

    assert SlotSet("form_aborted", True) in events
    assert [m["response"] for m in said(dispatcher)] == ["utter_question_handed_over", "utter_handoff_queued"]


async def test_a_complaint_goes_on_without_a_number_given_twice_unusably(
    action_services: Services, domain: DomainDict
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = form_tracker(
        "complaint_form",
        {"contact_phone": "8800001001"},
        slots={"complaint_description": "快递员态度太差", "complaint_category": "logistics",
               "form_prompt": prompt("complaint_form", "contact_phone", 2)},
        history=[activated("complaint_form")],
    )

    events = await ValidateComplaintForm().run(dispatcher, tracker, domain)

    assert events == [
        SlotSet("contact_phone", None),
        SlotSet("contact_declined", True),
        SlotSet("form_prompt", None),
        SlotSet("requested_slot", None),
    ]
    assert said(dispatcher) == []


async def test_a_description_asked_twice_is_what_the_shopper_said(
    action_services: Services, domain: DomainDict
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = form_tracker(
        "complaint_form",
        {"complaint_description": "嗯"},
        slots={"form_prompt": prompt("complaint_form", "complaint_description", 2)},
        history=[activated("complaint_form"), user_event("我要投诉"), user_event("气死了")],
    )

    events = await ValidateComplaintForm().run(dispatcher, tracker, domain)

    assert SlotSet("complaint_description", "我要投诉；气死了；嗯") in events


async def test_the_contact_question_is_asked_again_saying_decline_is_fine(domain: DomainDict) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        history=[activated("complaint_form")],
        slots={"form_prompt": prompt("complaint_form", "contact_phone", 1)},
        active_loop="complaint_form",
    )

    await ActionAskContactPhone().run(dispatcher, tracker, domain)

    assert said(dispatcher) == [{"response": "utter_ask_contact_phone_again"}]
    assert "不留" in domain["responses"]["utter_ask_contact_phone_again"][0]["text"]
