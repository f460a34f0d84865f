"""Dialogue housekeeping (bot/actions/dialogue.py): stopping a task, the two-stage fallback."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.dialogue import ActionDefaultAskAffirmation, ActionStopTask
from tests.fixtures.actions import make_tracker, said, verified_slots


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
        SlotSet("complaint_category", None),
        SlotSet("complaint_description", None),
        SlotSet("form_aborted", None),
        SlotSet("requested_slot", None),
    ]
    assert said(dispatcher) == [{"response": "utter_stopped"}]


async def ask(
    domain: DomainDict, ranking: list[dict[str, Any]] | None, text: str = "那个东西怎么弄"
) -> tuple[list[dict[str, Any]], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(text=text, intent="nlu_fallback", intent_ranking=ranking)
    events = await ActionDefaultAskAffirmation().run(dispatcher, tracker, domain)
    return events, dispatcher


async def test_the_two_likeliest_known_intents_are_offered_as_buttons(domain: DomainDict) -> None:
    events, dispatcher = await ask(
        domain,
        [
            {"name": "nlu_fallback", "confidence": 0.45},
            {"name": "request_return", "confidence": 0.30},
            {"name": "greet", "confidence": 0.15},  # not something to offer
            {"name": "check_refund_status", "confidence": 0.08},
            {"name": "file_complaint", "confidence": 0.02},
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
