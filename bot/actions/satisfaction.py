"""The satisfaction rating after a person resolved a handed-over conversation.

The agent workspace resumes the bot and runs `action_ask_satisfaction`, which opens
`satisfaction_form`: the shopper answers 1 to 5 (a button, a digit, 五星, 满意...). Any
other answer ends the question politely, unrated. The rating is a `satisfaction` record.
"""

from __future__ import annotations

import re
from typing import Any, Final

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.service_records import SatisfactionOutcome, write_record
from bot.nlu.normalize import normalize

SATISFACTION_FORM = "satisfaction_form"
RATING_SLOT = "satisfaction_rating"
NOT_RATED: Final[SatisfactionOutcome] = "not_rated"
# Words for a rating, most specific first ("非常不满意" before "不满意" before "满意").
RATING_WORDS = (
    (1, re.compile(r"非常不满意|很不满意|太差|很差|极差")),
    (2, re.compile(r"不满意|不太满意|差")),
    (3, re.compile(r"一般|还行|凑合")),
    (5, re.compile(r"非常满意|很满意|特别满意|超级满意|太好了")),
    (4, re.compile(r"满意|不错|挺好|还好")),
)
_DIGIT_RATING = re.compile(r"(?<!\d)([1-5])\s*(?:分|星|颗星)?(?!\d)")
# "五星", "给三分": a Chinese numeral counts only with its unit (一般 is no 1).
_NUMERAL_RATING = re.compile(r"([一二两三四五])\s*(?:分|星|颗星)")
_NUMERALS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}


def parse_rating(text: str) -> int | None:
    """The 1-5 rating in a shopper's answer, or None when there is none."""
    normalised = normalize(text).text
    digits = _DIGIT_RATING.findall(normalised)
    if len(digits) == 1:
        return int(digits[0])
    if digits:
        return None  # "3还是4" is no answer
    numeral = _NUMERAL_RATING.search(normalised)
    if numeral:
        return _NUMERALS[numeral.group(1)]
    return next((rating for rating, words in RATING_WORDS if words.search(normalised)), None)


class ActionAskSatisfaction(Action):
    """Asks for a rating and opens the rating form (run by the agent workspace)."""

    def name(self) -> str:
        return "action_ask_satisfaction"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_ask_satisfaction_rating")
        return [
            SlotSet(RATING_SLOT, None),
            ActiveLoop(SATISFACTION_FORM),
            SlotSet("requested_slot", RATING_SLOT),
        ]


class ValidateSatisfactionForm(FormValidationAction):
    """Takes a rating, or ends the question for any other answer."""

    def name(self) -> str:
        return "validate_satisfaction_form"

    async def validate_satisfaction_rating(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        rating = parse_rating(str(slot_value or ""))
        return {RATING_SLOT: str(rating) if rating is not None else NOT_RATED}


class ActionRecordSatisfaction(Action):
    """Records the rating (or that none was given) and thanks the shopper."""

    def name(self) -> str:
        return "action_record_satisfaction"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        value = tracker.get_slot(RATING_SLOT)
        if value in (None, NOT_RATED):
            await write_record(tracker, "satisfaction", order_id=None, outcome=NOT_RATED, rule=None,
                               details={"rating": None})
            dispatcher.utter_message(response="utter_satisfaction_not_rated")
        else:
            await write_record(tracker, "satisfaction", order_id=None, outcome="rated", rule=None,
                               details={"rating": int(value)})
            dispatcher.utter_message(response="utter_satisfaction_thanks")
        return [SlotSet(RATING_SLOT, None)]
