"""Complaint intake: category, description, contact number; a ticket with a real deadline.

The deadline is the policy's (COMPLAINT-24H: feedback with a resolution plan within 24
hours). The record service stores the ticket and its service record in one transaction.
An order is linked only when its owner was verified in this conversation.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.conversation import channel_of, conversation_id, find_mobile, idempotency_key
from bot.actions.http_client import ServiceError
from bot.actions.ownership import is_verified
from bot.actions.records_client import NewComplaint
from bot.actions.refunds import local_time
from bot.actions.services import call, services
from bot.nlu.normalize import normalize

CATEGORIES = ("product_quality", "service_attitude", "logistics", "system_failure", "merchant", "other")
# Checked in this order: "快递员态度差" is about delivery, so logistics comes before attitude.
# "系统故障" (an answer the category question offers) is a system failure, not a product's.
CATEGORY_KEYWORDS = (
    ("logistics", re.compile(r"物流|快递|配送|送货|派送|包裹|运输|丢件|驿站")),
    ("product_quality", re.compile(r"质量|坏了|破损|假货|次品|瑕疵|(?<!系统)故障|黑屏|不能用|用不了")),
    ("system_failure", re.compile(r"系统|闪退|页面|app|APP|网站|打不开|bug|支付失败")),
    ("merchant", re.compile(r"商家|卖家|店家|店铺|虚假宣传|货不对板|欺诈")),
    ("service_attitude", re.compile(r"态度|客服|服务")),
    ("other", re.compile(r"其他|其它|别的")),
)
# What "我要投诉！" says besides the wish to complain; the rest is the description.
_COMPLAINT_WORDS = re.compile(r"我要|我想|投诉|举报|你们|一下|!|！|，|。|,|\.|\s")
MIN_DESCRIPTION_CHARS = 4
MAX_DESCRIPTION_CHARS = 2000
COMPLAINT_RULE = "COMPLAINT-24H"
COMPLAINT_FORM = "complaint_form"
# What the record service keeps of a picture, and how many (record_service/validation.py).
EVIDENCE_FIELDS = ("kind", "channel", "media_id", "url", "received_at")
MAX_EVIDENCE_ITEMS = 9


def parse_category(text: str) -> str | None:
    """The complaint category a shopper's words name, or None."""
    normalised = normalize(text).text
    return next((category for category, words in CATEGORY_KEYWORDS if words.search(normalised)), None)


def is_description(text: str) -> bool:
    """Whether `text` says what happened, beyond "我要投诉"."""
    return len(_COMPLAINT_WORDS.sub("", text)) >= MIN_DESCRIPTION_CHARS


def complaint_evidence(events: list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """The pictures the shopper sent during the latest complaint form, oldest first.

    Channels put pictures on the shopper's next message as `metadata["attachments"]`,
    marked `evidence_for: complaint` when the complaint form was active at the time.
    """
    evidence: list[dict[str, Any]] = []
    for event in reversed(events):
        if event.get("event") == "active_loop" and event.get("name") == COMPLAINT_FORM:
            break
        metadata = event.get("metadata") if event.get("event") == "user" else None
        attachments = metadata.get("attachments") if isinstance(metadata, dict) else None
        for item in reversed(attachments if isinstance(attachments, list) else []):
            if isinstance(item, dict) and item.get("evidence_for") == "complaint":
                evidence.append({name: item.get(name) for name in EVIDENCE_FIELDS})
    return tuple(reversed(evidence[:MAX_EVIDENCE_ITEMS]))


class ValidateComplaintForm(FormValidationAction):
    """Checks the description, the category and the contact number of a complaint."""

    def name(self) -> str:
        return "validate_complaint_form"

    async def validate_complaint_description(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(slot_value or "").strip()
        if not is_description(text):
            return {"complaint_description": None}
        slots: dict[str, Any] = {"complaint_description": text[:MAX_DESCRIPTION_CHARS]}
        category = parse_category(text)
        if category and not tracker.get_slot("complaint_category"):
            slots["complaint_category"] = category
        return slots

    async def validate_complaint_category(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        value = str(slot_value or "")
        # Words beat a learned entity: "快递员态度差" is a delivery complaint.
        category = parse_category(value) or parse_category(tracker.latest_message.get("text") or "")
        if category is None and value in CATEGORIES:
            category = value
        if category is None:
            dispatcher.utter_message(response="utter_invalid_complaint_category")
        return {"complaint_category": category}

    async def validate_contact_phone(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        mobile = find_mobile(str(slot_value or ""))
        if mobile is None:
            dispatcher.utter_message(response="utter_invalid_contact_phone")
        return {"contact_phone": mobile}


class ActionCreateComplaint(Action):
    """Opens the complaint ticket with its deadline and tells the shopper both."""

    def name(self) -> str:
        return "action_create_complaint"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        svc = services()
        decision = svc.policy.complaint_deadline(svc.clock())
        complaint = NewComplaint(
            conversation_id=conversation_id(tracker),
            channel=channel_of(tracker),
            order_id=str(tracker.get_slot("order_id")) if is_verified(tracker) else None,
            category=str(tracker.get_slot("complaint_category") or "other"),
            description=str(tracker.get_slot("complaint_description") or ""),
            contact_phone=tracker.get_slot("contact_phone"),
            due_at=str(decision.facts["due_at"]),
            rule=decision.rule,
            evidence=complaint_evidence(tracker.events),
        )
        try:
            ticket = await call(
                svc.records.create_complaint, complaint, idempotency_key(tracker, "complaint")
            )
        except ServiceError:
            dispatcher.utter_message(response="utter_records_unavailable")
            return []
        dispatcher.utter_message(
            response="utter_complaint_created",
            ticket_id=ticket.ticket_id,
            due_at=local_time(str(decision.facts["due_at"]), svc.policy),
        )
        return [SlotSet("complaint_description", None), SlotSet("complaint_category", None)]
