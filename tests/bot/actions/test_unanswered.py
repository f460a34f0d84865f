"""The unanswered-question log (bot/actions/unanswered.py), against the real record service."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.dialogue import ActionNotUnderstood
from bot.actions.services import Services
from bot.actions.unanswered import ActionAnswerOutOfScope, log_unanswered
from tests.fixtures.actions import make_tracker, said, stored_records

RANKING = [
    {"name": "nlu_fallback", "confidence": 0.41},
    {"name": "out_of_scope", "confidence": 0.2912345},
    {"name": "chitchat", "confidence": 0.1},
    {"name": "greet", "confidence": 0.08},
    {"name": "thank", "confidence": 0.05},
    {"name": "deny", "confidence": 0.04},
]


async def test_an_out_of_scope_question_is_answered_and_logged(
    action_services: Services, domain: DomainDict
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(text="这个杯子有没有粉色的", intent="out_of_scope", intent_ranking=RANKING,
                           channel="wechat")

    events = await ActionAnswerOutOfScope().run(dispatcher, tracker, domain)

    assert events == []
    assert said(dispatcher) == [{"response": "utter_out_of_scope"}]
    assert stored_records(action_services.records, tracker.sender_id, channel="wechat") == [
        {
            "conversation_id": tracker.sender_id,
            "kind": "unanswered",
            "order_id": None,
            "outcome": "answered_out_of_scope",
            "rule": None,
            "details": {
                "text": "这个杯子有没有粉色的",
                "reason": "out_of_scope",
                "intent_ranking": [
                    {"name": "nlu_fallback", "confidence": 0.41},
                    {"name": "out_of_scope", "confidence": 0.2912},
                    {"name": "chitchat", "confidence": 0.1},
                    {"name": "greet", "confidence": 0.08},
                    {"name": "thank", "confidence": 0.05},
                ],
                "next": "answered_out_of_scope",
            },
        }
    ]


async def test_a_message_not_understood_is_logged_with_its_personal_data_masked(
    action_services: Services, domain: DomainDict
) -> None:
    tracker = make_tracker(text="啊啊啊 我手机13800138000 身份证110101199003071234", intent="nlu_fallback",
                           intent_ranking=RANKING[:1])

    await ActionNotUnderstood().run(CollectingDispatcher(), tracker, domain)

    [logged] = stored_records(action_services.records, tracker.sender_id)
    assert (logged["outcome"], logged["details"]["text"]) == (
        "asked_to_rephrase", "啊啊啊 我手机138****8000 身份证110101********1234"
    )


async def test_a_button_payload_and_an_empty_message_are_not_logged(action_services: Services) -> None:
    for text in ("/out_of_scope", "   "):
        tracker = make_tracker(text=text, intent="out_of_scope")

        assert await log_unanswered(tracker, "answered_out_of_scope") is False
        assert stored_records(action_services.records, tracker.sender_id) == []


async def test_a_retried_action_logs_the_message_once(action_services: Services) -> None:
    tracker = make_tracker(text="嗯嗯嗯那个", intent="nlu_fallback", message_id="m-1")

    assert await log_unanswered(tracker, "asked_to_rephrase") is True
    assert await log_unanswered(tracker, "asked_to_rephrase") is True

    assert len(stored_records(action_services.records, tracker.sender_id)) == 1
