"""The unanswered-question log: what the bot could not answer, kept for people to review.

Every message the bot could not answer (not understood, or out of scope) is written as a
service record of kind `unanswered`, with the text masked, the NLU's intent ranking and
what the bot did next; the agent workspace lists them, a person gives each its right
intent, and `make export-review` turns the reviews into training data (002 §7.1.2).
"""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.conversation import latest_text
from bot.actions.service_records import UnansweredOutcome, write_record
from service_common.pii import mask_personal_data

# The ranking kept with a message: enough to see what the NLU hesitated between.
RANKING_KEPT = 5
# Decimals of a confidence kept: enough to compare two intents, no float noise.
CONFIDENCE_DECIMALS = 4
MAX_TEXT_CHARS = 500


async def log_unanswered(tracker: Tracker, next_step: UnansweredOutcome) -> bool:
    """Writes the shopper's latest message to the unanswered-question log.

    A button's payload ("/out_of_scope") is not the shopper's words and is not logged.

    Returns:
        True when a record was queued.
    """
    text = latest_text(tracker).strip()
    if not text or text.startswith("/"):
        return False
    message = tracker.latest_message
    ranking = [
        {
            "name": str(entry.get("name")),
            "confidence": round(float(entry.get("confidence") or 0), CONFIDENCE_DECIMALS),
        }
        for entry in (message.get("intent_ranking") or [])[:RANKING_KEPT]
    ]
    return await write_record(
        tracker,
        "unanswered",
        order_id=None,
        outcome=next_step,
        rule=None,
        details={
            "text": mask_personal_data(text)[:MAX_TEXT_CHARS],
            "reason": str((message.get("intent") or {}).get("name") or "unknown"),
            "intent_ranking": ranking,
            "next": next_step,
        },
    )


class ActionAnswerOutOfScope(Action):
    """A question beyond after-sales: a short answer saying where to ask, and a log entry."""

    def name(self) -> str:
        return "action_answer_out_of_scope"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_out_of_scope")
        await log_unanswered(tracker, "answered_out_of_scope")
        return []
