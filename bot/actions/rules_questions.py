"""Questions about the after-sales rules, answered for the shopper's own order when it is known.

"退货运费谁出？" asked while returning a verified order gets that order's answer (its
deadline and who pays, from the policy's decision), not the general rules and a request
for an order number. Without a verified order the answer fits the question's topic
(return shipping, packing and sending back, refund timing) or is the general summary.
"""

from __future__ import annotations

import re

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.conversation import latest_text
from bot.actions.ownership import verified_order_if_reachable
from bot.actions.prompts import active_form
from bot.actions.returns import EXCLUSION_NAMES, chosen_item, evaluate, month_day
from bot.nlu.normalize import normalize
from bot.policy.model import NOT_DELIVERED, NOT_ELIGIBLE, NOT_INTACT, QUALITY_ISSUE, WINDOW_EXPIRED

# The topic of a rules question, by its words; checked in this order ("快递费谁出" is
# about who pays, not about the courier).
TOPICS = (
    ("shipping", re.compile(r"运费|邮费|快递费|谁出|谁承担|谁负担|谁付|自己出|自付")),
    ("refund_time", re.compile(r"到账|多久退|几天退|退款.{0,6}(多久|几天|时间|多长)")),
    ("parcel", re.compile(r"打包|怎么包|原包装|怎么寄|寄回|快递|上门|取件|哪家|物流公司|大件|地址")),
)
TOPIC_RESPONSES = {
    "shipping": "utter_rules_return_shipping",
    "refund_time": "utter_rules_refund_time",
    "parcel": "utter_rules_return_parcel",
}
# Why an order's item cannot be returned without a reason, as the answer's clause says it.
NOT_ELIGIBLE_WHY = {
    WINDOW_EXPIRED: "签收已经超过 7 天",
    NOT_DELIVERED: "还没有签收",
    NOT_INTACT: "商品已经不完好",
}


def question_topic(text: str) -> str | None:
    """The topic of a rules question (`shipping`, `refund_time`, `parcel`), or None."""
    normalised = normalize(text).text
    return next((topic for topic, words in TOPICS if words.search(normalised)), None)


class ActionAnswerRulesQuestion(Action):
    """Answers a question about the rules; inside a task, for the task's verified order."""

    def name(self) -> str:
        return "action_answer_rules_question"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        topic = question_topic(latest_text(tracker))
        if topic in (None, "shipping") and await self._answer_for_order(dispatcher, tracker):
            return []
        if topic is not None:
            dispatcher.utter_message(response=TOPIC_RESPONSES[topic])
        elif active_form(tracker):  # the form asks for what it needs next
            dispatcher.utter_message(response="utter_return_policy_brief")
        else:
            dispatcher.utter_message(response="utter_return_policy")
        return []

    @staticmethod
    async def _answer_for_order(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
        """Says what the rules mean for the verified order's item; False when none is known."""
        order = await verified_order_if_reachable(tracker)
        item = chosen_item(order, tracker) if order else None
        if order is None or item is None:
            return False
        # Not asked yet: the answer is for intact goods, and says that they must be.
        intact = tracker.get_slot("item_intact") in (None, "yes")
        decision = evaluate(order, item, tracker, intact)
        common = {"order_id": order.order_id, "item_name": item.name}
        if decision.reason == QUALITY_ISSUE:
            dispatcher.utter_message(response="utter_rules_for_order_quality", **common)
            return True
        if decision.outcome == NOT_ELIGIBLE:
            reason = str(decision.reason)
            exclusion = EXCLUSION_NAMES.get(reason, "不适用无理由退货的商品")
            why = NOT_ELIGIBLE_WHY.get(reason) or f"属于{exclusion}"
            dispatcher.utter_message(response="utter_rules_for_order_not_eligible", why=why, **common)
            return True
        payer = "商家" if decision.facts.get("shipping_paid_by") == "merchant" else "您"
        dispatcher.utter_message(
            response="utter_rules_for_order_eligible",
            deadline=month_day(decision.facts.get("deadline")),
            shipping_payer=payer,
            **common,
        )
        return True
