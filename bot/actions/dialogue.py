"""Dialogue housekeeping: stopping a task, and asking which intent was meant."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.handoff import shopper_is_distressed

# The slots of a task in progress; identity stays verified for the conversation.
TASK_SLOTS = (
    "item_intact",
    "return_item",
    "return_offer",
    "complaint_category",
    "complaint_description",
    "form_aborted",
    "requested_slot",
)
# How an intent is named when the bot asks "您是想…吗？" (two-stage fallback).
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


class ActionDefaultAskAffirmation(Action):
    """Two-stage fallback, first stage: "您是想…吗？" with buttons, in Chinese.

    An angry or distressed shopper is not made to try again first: a "转人工" button
    comes first, so one tap reaches a person.
    """

    def name(self) -> str:
        return "action_default_ask_affirmation"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        ranking = tracker.latest_message.get("intent_ranking") or []
        candidates = [entry["name"] for entry in ranking if entry.get("name") in INTENT_LABELS][:2]
        distressed = shopper_is_distressed(tracker)
        if not candidates and not distressed:
            dispatcher.utter_message(response="utter_ask_rephrase")
            return []
        if distressed:
            candidates = ["request_human", *(name for name in candidates if name != "request_human")][:2]
        buttons = [{"title": INTENT_LABELS[name], "payload": f"/{name}"} for name in candidates] + [
            {"title": "都不是", "payload": "/out_of_scope"}
        ]
        question = "、".join(f"“{INTENT_LABELS[name]}”" for name in candidates)
        dispatcher.utter_message(response="utter_ask_affirmation", choices=question, buttons=buttons)
        return []
