"""A form's questions, asked at most twice: never the same question for ever.

The first time a question is asked plainly. The second time it says why the bot asks and
what else the shopper can do (pick a recent order, say "转人工", decline). If the answer is
still unusable, or the shopper talked about something else, the form gives the question
up: an optional detail is skipped, a required one goes to a person. A wrong but usable
answer (phone digits that do not match) is not unusable: it has its own limit
(IDENTITY-VERIFY) and starts the count again.

How often the current question was asked is kept in the `form_prompt` slot, counted per
form activation so that a form started again begins from the first wording. Pure
functions over the tracker; the ask actions and the validation mixin use them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

PROMPT_SLOT = "form_prompt"
# A question is asked twice at the most; after the second unusable answer the form moves on.
MAX_ASKS = 2
# Actions that run after every user message before the form: they do not mean the form is
# coming back to its question after answering something else.
_AFTER_EVERY_MESSAGE = frozenset({"action_listen", "action_extract_slots"})


@dataclass(frozen=True)
class Prompt:
    """How often the active form has asked one of its questions.

    Attributes:
        form: The form that asked.
        slot: The slot the question is for.
        asked: How many times it was asked, without a usable answer since.
        activation: Which activation of the form (1 for the first in the conversation).
    """

    form: str
    slot: str
    asked: int
    activation: int

    def as_slot_value(self) -> dict[str, Any]:
        """The value of the `form_prompt` slot."""
        return {"form": self.form, "slot": self.slot, "asked": self.asked, "activation": self.activation}


def active_form(tracker: Tracker) -> str | None:
    """The name of the active form, if any."""
    name = (tracker.active_loop or {}).get("name")
    return str(name) if name else None


def activation_number(tracker: Tracker, form: str) -> int:
    """How many times `form` has been activated in the conversation (its latest activation)."""
    return sum(
        1 for event in tracker.events if event.get("event") == "active_loop" and event.get("name") == form
    )


def times_asked(tracker: Tracker, slot: str) -> int:
    """How many times the active form has asked for `slot` without a usable answer."""
    form = active_form(tracker)
    value = tracker.get_slot(PROMPT_SLOT)
    if form is None or not isinstance(value, dict):
        return 0
    current = (value.get("form"), value.get("slot"), value.get("activation"))
    if current != (form, slot, activation_number(tracker, form)):
        return 0
    return int(value.get("asked") or 0)


def asked_again(tracker: Tracker, slot: str) -> SlotSet:
    """The event that counts one more asking of `slot` by the active form."""
    form = active_form(tracker) or ""
    prompt = Prompt(form, slot, times_asked(tracker, slot) + 1, activation_number(tracker, form))
    return SlotSet(PROMPT_SLOT, prompt.as_slot_value())


def count_restarted(tracker: Tracker, slot: str) -> dict[str, Any]:
    """Slot values that start the count for `slot` again (a usable answer, even a wrong one)."""
    form = active_form(tracker) or ""
    return {PROMPT_SLOT: Prompt(form, slot, 0, activation_number(tracker, form)).as_slot_value()}


def _events_since_latest_user_message(tracker: Tracker) -> list[dict[str, Any]]:
    events = list(tracker.events)
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") == "user":
            return events[index + 1 :]
    return events


def form_returns_after_a_digression(tracker: Tracker, form: str) -> bool:
    """Whether the form runs again after another action answered the latest message
    (a question answered inside the form), rather than straight after the message."""
    return any(
        event.get("event") == "action" and event.get("name") not in (*_AFTER_EVERY_MESSAGE, form)
        for event in _events_since_latest_user_message(tracker)
    )


def form_already_spoke(tracker: Tracker) -> bool:
    """Whether the form's validation already said something this turn (which re-asks).

    Rasa gives the ask action a tracker whose last `action` event is the form itself,
    followed by what its validation did.
    """
    form = active_form(tracker)
    events = _events_since_latest_user_message(tracker)
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if event.get("event") == "action" and event.get("name") == form:
            return any(later.get("event") == "bot" for later in events[index + 1 :])
    return False


class BoundedAsk(Action, ABC):
    """Asks for one slot: the first time plainly, the second time with why and what else.

    Subclasses name the action (`action_ask_<slot>`), the slot and the two responses, or
    override `ask`.
    """

    slot: str = ""
    first_response: str = ""
    again_response: str = ""

    @abstractmethod
    def name(self) -> str:
        """The ask action's name, `action_ask_<slot>`."""

    async def ask(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, *, again: bool
    ) -> None:
        """Says the question (`again`: it was asked before and not answered usably)."""
        dispatcher.utter_message(response=self.again_response if again else self.first_response)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if not form_already_spoke(tracker):
            await self.ask(dispatcher, tracker, domain, again=times_asked(tracker, self.slot) >= 1)
        return [asked_again(tracker, self.slot)]


class BoundedQuestions:
    """A form-validation mixin: gives a question up once it was asked `MAX_ASKS` times.

    It acts when the question's answer was unusable, or when the form comes back to the
    question after answering something else; a message that fills nothing is left to be
    rejected, so that the rule for what the shopper did say can answer it first.
    Subclasses say what giving up means for each slot in `give_up`.
    """

    async def give_up(
        self, slot: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Slot values that end the asking for `slot` (skip it, fill it otherwise, or end the form)."""
        raise NotImplementedError

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        given = dict(tracker.slots_to_validate())
        events: list[EventType] = await super().get_validation_events(  # type: ignore[misc]
            dispatcher, tracker, domain
        )
        requested = tracker.get_slot("requested_slot")
        form = active_form(tracker)
        if not requested or form is None or tracker.slots.get(requested) is not None:
            return events
        answered_unusably = requested in given
        if not (answered_unusably or form_returns_after_a_digression(tracker, form)):
            return events
        if times_asked(tracker, requested) < MAX_ASKS:
            return events
        values = await self.give_up(requested, dispatcher, tracker, domain)
        values.setdefault(PROMPT_SLOT, None)
        tracker.slots.update(values)
        return [*events, *(SlotSet(name, value) for name, value in values.items())]
