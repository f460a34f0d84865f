"""The satisfaction rating (bot/actions/satisfaction.py) against the real record service."""

from __future__ import annotations

import pytest
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.records_client import RecordsClient
from bot.actions.satisfaction import (
    ActionAskSatisfaction,
    ActionRecordSatisfaction,
    ValidateSatisfactionForm,
    parse_rating,
)
from bot.actions.services import Services
from tests.fixtures.actions import form_tracker, make_tracker, new_conversation_id, said, stored_records


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("5", 5),
        ("５", 5),
        ("1", 1),
        ("4分", 4),
        ("五星", 5),
        ("给三分吧", 3),
        ("非常满意", 5),
        ("满意", 4),
        ("一般般", 3),
        ("不太满意", 2),
        ("非常不满意", 1),
        ("很差", 1),
        ("6", None),
        ("10", None),
        ("3还是4", None),
        ("我要退货", None),
        ("", None),
    ],
)
def test_parse_rating(text: str, rating: int | None) -> None:
    assert parse_rating(text) == rating


async def test_asking_opens_the_rating_form(domain: DomainDict) -> None:
    dispatcher = CollectingDispatcher()

    events = await ActionAskSatisfaction().run(dispatcher, make_tracker(), domain)

    assert said(dispatcher) == [{"response": "utter_ask_satisfaction_rating"}]
    assert events == [
        SlotSet("satisfaction_rating", None),
        ActiveLoop("satisfaction_form"),
        SlotSet("requested_slot", "satisfaction_rating"),
    ]


@pytest.mark.parametrize(("answer", "value"), [("4", "4"), ("非常满意", "5"), ("我要退货", "not_rated")])
async def test_any_answer_ends_the_question(answer: str, value: str, domain: DomainDict) -> None:
    dispatcher = CollectingDispatcher()
    tracker = form_tracker("satisfaction_form", {"satisfaction_rating": answer}, text=answer)

    events = await ValidateSatisfactionForm().run(dispatcher, tracker, domain)

    assert events == [SlotSet("satisfaction_rating", value)]
    assert said(dispatcher) == []


@pytest.mark.parametrize(
    ("value", "outcome", "rating", "response"),
    [("5", "rated", 5, "utter_satisfaction_thanks"), ("not_rated", "not_rated", None, "utter_satisfaction_not_rated")],
)
async def test_the_rating_is_recorded(
    value: str,
    outcome: str,
    rating: int | None,
    response: str,
    action_services: Services,
    records_client: RecordsClient,
    domain: DomainDict,
) -> None:
    conversation = new_conversation_id()
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(sender_id=conversation, slots={"satisfaction_rating": value}, message_id="m1")

    events = await ActionRecordSatisfaction().run(dispatcher, tracker, domain)

    assert stored_records(records_client, conversation) == [
        {"conversation_id": conversation, "kind": "satisfaction", "order_id": None, "outcome": outcome,
         "rule": None, "details": {"rating": rating}}
    ]
    assert said(dispatcher) == [{"response": response}]
    assert events == [SlotSet("satisfaction_rating", None)]
