"""Dialogue housekeeping: stopping a task, and what follows a message not understood."""

from __future__ import annotations

import re

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.handoff import events_after_handoff, hand_off, shopper_is_distressed
from bot.actions.ownership import verified_order_if_reachable
from bot.actions.unanswered import log_unanswered

# The slots of a task in progress; identity stays verified for the conversation.
TASK_SLOTS = (
    "item_intact",
    "return_item",
    "return_offer",
    "delivery_offer",
    "complaint_category",
    "complaint_description",
    "contact_declined",
    "form_prompt",
    "form_aborted",
    "requested_slot",
)
# The intent the FallbackClassifier gives a message it did not understand.
NOT_UNDERSTOOD_INTENT = "nlu_fallback"
# The third message in a row not understood goes to a person (README: repeated failure).
HANDOVER_AFTER_MISUNDERSTOOD = 3
# How likely a task must be to be offered as a button for a message not understood.
MEANING_CONFIDENCE = 0.15
# How many likely tasks "您是想…吗？" offers, so the question stays short.
MEANINGS_OFFERED = 2
# Letters or Chinese characters: a message of only punctuation, digits or emoji has none.
_HAS_WORDS = re.compile(r"[A-Za-z\u4e00-\u9fff]")
# How an intent is named when the bot asks "您是想…吗？" (a message not understood).
INTENT_LABELS = {
    "request_return": "办理退货",
    "request_exchange": "办理换货",
    "request_refund": "申请退款",
    "report_quality_issue": "反映商品质量问题",
    "ask_return_policy": "了解退货规则",
    "check_refund_status": "查询退款进度",
    "check_return_status": "查询退货进度",
    "check_order_status": "查询订单物流",
    "file_complaint": "投诉",
    "request_human": "转人工客服",
    "request_compensation": "要求赔偿",
    "report_urgent_issue": "处理紧急问题",
    "ask_price_protection": "咨询价格保护",
    "ask_invoice": "咨询发票",
    "cancel_order": "取消订单",
    "change_address": "修改收货地址",
    "ask_complaint_routes": "了解其他投诉渠道",
}


# The form that serves each task a shopper can ask for, and the request kind it sets.
TASK_FORMS: dict[str, tuple[str, str | None]] = {
    "check_refund_status": ("refund_status_form", None),
    "request_return": ("return_form", "return"),
    "request_exchange": ("return_form", "exchange"),
    "request_refund": ("return_form", "refund"),
    "report_quality_issue": ("return_form", "return"),
    "check_order_status": ("order_status_form", None),
    "check_return_status": ("order_status_form", None),
    "file_complaint": ("complaint_form", None),
}
# Earlier questions that make an order number mean "check this one": 能不能退 → return.
FOLLOW_UP_FORMS = {**TASK_FORMS, "ask_return_policy": ("return_form", "return")}
# A task intent ranked at least this high beside `inform` is what the details are for:
# the message's details pull `inform` up, the words that name the task still rank next.
TASK_CONFIDENCE = 0.01


def task_for(tracker: Tracker) -> tuple[str, str | None] | None:
    """The form (and request kind) the shopper's details belong to: the task named now,
    else the shopper's last request."""
    for entry in tracker.latest_message.get("intent_ranking") or []:
        name = entry.get("name")
        if name in TASK_FORMS and float(entry.get("confidence") or 0) >= TASK_CONFIDENCE:
            return TASK_FORMS[name]
    for event in reversed(tracker.events[:-1]):
        if event.get("event") != "user":
            continue
        name = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if name in FOLLOW_UP_FORMS:
            return FOLLOW_UP_FORMS[name]
    return None


class ActionRouteDetails(Action):
    """Details given without a request ("订单号8800002003，尾号5555") go to their task.

    The task is the one the same message also names (ranked beside `inform`), else the
    shopper's last request; with neither, the bot asks what the details are for.
    """

    def name(self) -> str:
        return "action_route_details"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        task = task_for(tracker)
        if task is None:
            dispatcher.utter_message(response="utter_ask_task")
            return []
        form, request_kind = task
        kind: list[EventType] = [SlotSet("request_kind", request_kind)] if request_kind else []
        return [*kind, FollowupAction(form)]


class ActionStopTask(Action):
    """Stops whatever the shopper was doing ("算了") and says what they can do next."""

    def name(self) -> str:
        return "action_stop_task"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_stopped")
        return [ActiveLoop(None), *(SlotSet(slot, None) for slot in TASK_SLOTS)]


def misunderstood_in_a_row(tracker: Tracker) -> int:
    """How many of the shopper's latest messages in a row the NLU did not understand."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        if ((event.get("parse_data") or {}).get("intent") or {}).get("name") != NOT_UNDERSTOOD_INTENT:
            break
        count += 1
    return count


def likely_meanings(tracker: Tracker) -> list[str]:
    """The (at most two) tasks the shopper may have meant, worth offering as buttons.

    Only for words with some content ("？？？" means nothing) and intents the NLU found
    at least somewhat likely; otherwise the buttons would be a guess.
    """
    if not _HAS_WORDS.search(str(tracker.latest_message.get("text") or "")):
        return []
    ranking = tracker.latest_message.get("intent_ranking") or []
    return [
        str(entry["name"])
        for entry in ranking
        if entry.get("name") in INTENT_LABELS and float(entry.get("confidence") or 0) >= MEANING_CONFIDENCE
    ][:MEANINGS_OFFERED]


class ActionNotUnderstood(Action):
    """A message the NLU did not understand: ask, then offer the tasks, then a person.

    The first time, "您是想…吗？" with the likely tasks as buttons (or a plain request to
    rephrase when nothing is likely); the second time in a row, every task as a button,
    a person first; the third time, a person takes over without being asked for. An
    angry or distressed shopper gets the "转人工" button first from the start.
    """

    def name(self) -> str:
        return "action_not_understood"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        streak = misunderstood_in_a_row(tracker)
        if streak > 0 and streak % HANDOVER_AFTER_MISUNDERSTOOD == 0:
            dispatcher.utter_message(response="utter_not_understood_handover")
            await log_unanswered(tracker, "handed_over")
            order = await verified_order_if_reachable(tracker)
            return events_after_handoff(await hand_off(dispatcher, tracker, "repeated_failure", order=order))
        # The last time before the handover: every task as a button, a person first.
        if streak % HANDOVER_AFTER_MISUNDERSTOOD == HANDOVER_AFTER_MISUNDERSTOOD - 1:
            dispatcher.utter_message(response="utter_ask_rephrase_again")
            await log_unanswered(tracker, "offered_tasks")
            return []
        candidates = likely_meanings(tracker)
        distressed = shopper_is_distressed(tracker)
        if not candidates and not distressed:
            dispatcher.utter_message(response="utter_ask_rephrase")
            await log_unanswered(tracker, "asked_to_rephrase")
            return []
        if distressed:
            others = (name for name in candidates if name != "request_human")
            candidates = ["request_human", *others][:MEANINGS_OFFERED]
        buttons = [{"title": INTENT_LABELS[name], "payload": f"/{name}"} for name in candidates] + [
            {"title": "都不是", "payload": "/out_of_scope"}
        ]
        question = "、".join(f"“{INTENT_LABELS[name]}”" for name in candidates)
        dispatcher.utter_message(response="utter_ask_affirmation", choices=question, buttons=buttons)
        await log_unanswered(tracker, "offered_tasks")
        return []
