"""Dialogue housekeeping (bot/actions/dialogue.py): stopping a task, messages not understood."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.dialogue import ActionNotUnderstood, ActionStopTask
from bot.actions.services import Services
from tests.fixtures.actions import make_tracker, said, stored_records, user_event, verified_slots


async def test_stopping_ends_the_form_and_forgets_the_task_but_not_the_verified_owner(
    domain: DomainDict,
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        slots={
            **verified_slots("8800001001"),
            "item_intact": "yes",
            "return_item": "AP-TS-01",
            "return_offer": "eligible",
            "requested_slot": "item_intact",
        },
        text="算了",
        intent="stop",
        active_loop="return_form",
    )

    events = await ActionStopTask().run(dispatcher, tracker, domain)

    assert events == [
        ActiveLoop(None),
        SlotSet("item_intact", None),
        SlotSet("return_item", None),
        SlotSet("return_offer", None),
        SlotSet("delivery_offer", None),
        SlotSet("complaint_category", None),
        SlotSet("complaint_description", None),
        SlotSet("contact_declined", None),
        SlotSet("form_prompt", None),
        SlotSet("form_aborted", None),
        SlotSet("requested_slot", None),
    ]
    assert said(dispatcher) == [{"response": "utter_stopped"}]


@pytest.fixture(autouse=True)
def services_for_the_log(action_services: Services) -> Services:
    """Messages not understood are written to the unanswered-question log (a record)."""
    return action_services


def not_understood(text: str) -> dict[str, Any]:
    """An earlier message the NLU did not understand."""
    return user_event(text, intent="nlu_fallback")


async def ask(
    domain: DomainDict,
    ranking: list[dict[str, Any]] | None,
    text: str = "那个东西怎么弄",
    history: list[dict[str, Any]] | None = None,
) -> tuple[list[dict[str, Any]], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(text=text, intent="nlu_fallback", intent_ranking=ranking, history=history or [])
    events = await ActionNotUnderstood().run(dispatcher, tracker, domain)
    return events, dispatcher


async def test_the_two_likeliest_known_intents_are_offered_as_buttons(domain: DomainDict) -> None:
    events, dispatcher = await ask(
        domain,
        [
            {"name": "nlu_fallback", "confidence": 0.45},
            {"name": "request_return", "confidence": 0.30},
            {"name": "greet", "confidence": 0.2},  # not something to offer
            {"name": "check_refund_status", "confidence": 0.18},
            {"name": "file_complaint", "confidence": 0.16},
        ],
    )

    assert said(dispatcher) == [
        {
            "response": "utter_ask_affirmation",
            "choices": "“办理退货”、“查询退款进度”",
            "buttons": [
                {"title": "办理退货", "payload": "/request_return"},
                {"title": "查询退款进度", "payload": "/check_refund_status"},
                {"title": "都不是", "payload": "/out_of_scope"},
            ],
        }
    ]
    assert events == []


async def test_a_single_candidate_is_offered_with_none_of_these(domain: DomainDict) -> None:
    _, dispatcher = await ask(
        domain, [{"name": "request_human", "confidence": 0.4}, {"name": "thank", "confidence": 0.3}]
    )

    assert said(dispatcher) == [
        {
            "response": "utter_ask_affirmation",
            "choices": "“转人工客服”",
            "buttons": [
                {"title": "转人工客服", "payload": "/request_human"},
                {"title": "都不是", "payload": "/out_of_scope"},
            ],
        }
    ]


@pytest.mark.parametrize(
    "ranking",
    [
        [{"name": "nlu_fallback", "confidence": 0.4}, {"name": "chitchat", "confidence": 0.3}],
        [],
    ],
)
async def test_without_a_known_candidate_the_shopper_is_asked_to_rephrase(
    ranking: list[dict[str, Any]], domain: DomainDict
) -> None:
    events, dispatcher = await ask(domain, ranking)

    assert said(dispatcher) == [{"response": "utter_ask_rephrase"}]
    assert events == []


@pytest.mark.parametrize("text", ["你们这什么破东西，我要曝光你们！！", "到底管不管", "骗子"])
async def test_an_angry_shopper_gets_a_person_as_the_first_choice(text: str, domain: DomainDict) -> None:
    _, dispatcher = await ask(
        domain,
        [
            {"name": "nlu_fallback", "confidence": 0.45},
            {"name": "file_complaint", "confidence": 0.30},
            {"name": "request_refund", "confidence": 0.20},
        ],
        text=text,
    )

    assert said(dispatcher) == [
        {
            "response": "utter_ask_affirmation",
            "choices": "“转人工客服”、“投诉”",
            "buttons": [
                {"title": "转人工客服", "payload": "/request_human"},
                {"title": "投诉", "payload": "/file_complaint"},
                {"title": "都不是", "payload": "/out_of_scope"},
            ],
        }
    ]


async def test_an_angry_shopper_nobody_understood_is_still_offered_a_person(domain: DomainDict) -> None:
    _, dispatcher = await ask(domain, [{"name": "nlu_fallback", "confidence": 0.45}], text="气死我了！！")

    assert said(dispatcher) == [
        {
            "response": "utter_ask_affirmation",
            "choices": "“转人工客服”",
            "buttons": [
                {"title": "转人工客服", "payload": "/request_human"},
                {"title": "都不是", "payload": "/out_of_scope"},
            ],
        }
    ]


@pytest.mark.parametrize("text", ["。。。", "1", "😅😅"])
async def test_a_message_without_words_gets_no_guessed_tasks(text: str, domain: DomainDict) -> None:
    _, dispatcher = await ask(
        domain,
        [{"name": "nlu_fallback", "confidence": 0.45}, {"name": "cancel_order", "confidence": 0.3}],
        text=text,
    )

    assert said(dispatcher) == [{"response": "utter_ask_rephrase"}]


async def test_the_second_message_in_a_row_not_understood_offers_every_task(domain: DomainDict) -> None:
    events, dispatcher = await ask(
        domain,
        [{"name": "nlu_fallback", "confidence": 0.45}, {"name": "request_return", "confidence": 0.3}],
        history=[user_event("我要退货", intent="request_return"), not_understood("啊啊那个东西")],
    )

    assert said(dispatcher) == [{"response": "utter_ask_rephrase_again"}]
    assert events == []


async def test_the_third_message_in_a_row_not_understood_goes_to_a_person(
    domain: DomainDict, open_hours: Services
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        text="就是那个嘛你懂的",
        intent="nlu_fallback",
        history=[not_understood("嗯嗯那个"), not_understood("就那个")],
    )

    events = await ActionNotUnderstood().run(dispatcher, tracker, domain)

    logged, handoff = stored_records(open_hours.records, tracker.sender_id)
    assert (logged["kind"], logged["outcome"], logged["details"]["text"]) == (
        "unanswered", "handed_over", "就是那个嘛你懂的"
    )
    assert (handoff["kind"], handoff["details"]["reason"]) == ("handoff", "repeated_failure")
    assert [message["response"] for message in said(dispatcher)] == [
        "utter_not_understood_handover",
        "utter_handoff_queued",
    ]
    assert events == [ActiveLoop(None), SlotSet("requested_slot", None)]


async def test_an_understood_message_starts_the_count_again(domain: DomainDict) -> None:
    _, dispatcher = await ask(
        domain,
        [{"name": "nlu_fallback", "confidence": 0.45}],
        history=[not_understood("嗯嗯那个"), not_understood("就那个"), user_event("转人工", intent="request_human")],
    )

    assert said(dispatcher) == [{"response": "utter_ask_rephrase"}]


async def test_an_unlikely_task_is_not_offered(domain: DomainDict) -> None:
    _, dispatcher = await ask(
        domain,
        [{"name": "nlu_fallback", "confidence": 0.45}, {"name": "chitchat", "confidence": 0.4},
         {"name": "cancel_order", "confidence": 0.08}],
    )

    assert said(dispatcher) == [{"response": "utter_ask_rephrase"}]


async def test_question_marks_alone_get_a_person_offered_not_a_guessed_task(domain: DomainDict) -> None:
    _, dispatcher = await ask(
        domain,
        [{"name": "nlu_fallback", "confidence": 0.45}, {"name": "cancel_order", "confidence": 0.3}],
        text="？？？",
    )

    assert said(dispatcher) == [
        {
            "response": "utter_ask_affirmation",
            "choices": "“转人工客服”",
            "buttons": [
                {"title": "转人工客服", "payload": "/request_human"},
                {"title": "都不是", "payload": "/out_of_scope"},
            ],
        }
    ]
