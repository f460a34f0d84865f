"""Complaint intake: category, description, contact number; a ticket with a real deadline.

The deadline is the policy's (COMPLAINT-24H: feedback with a resolution plan within 24
hours). The record service stores the ticket and its service record in one transaction.
An order is linked only when its owner was verified in this conversation.
"""

from __future__ import annotations

import re
from abc import ABC
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.conversation import (
    channel_of,
    conversation_id,
    find_mobile,
    idempotency_key,
    latest_intent,
    latest_text,
)
from bot.actions.orders import ORDER_STATUS_NAMES, shipment_note
from bot.actions.ownership import is_verified, verified_order_if_reachable
from bot.actions.prompts import BoundedAsk, BoundedQuestions
from bot.actions.records_client import NewComplaint
from bot.actions.refunds import local_time
from bot.actions.service_records import queue_write
from bot.actions.services import services
from bot.nlu.normalize import normalize
from service_common.channel_metadata import ChannelMetadata
from service_common.tickets import COMPLAINT_PREFIX, new_ticket_id

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
# "不留", "不方便给": the shopper would rather not leave a number.
_DECLINES_CONTACT = re.compile(
    r"不留|不想留|不用留|不方便|不给|不想给|不提供|不愿意|别打|不要打|不用打|没有手机|没手机"
)
# What the ticket says when the shopper described nothing usable, even when asked twice.
NO_DESCRIPTION = "（顾客未具体描述）"
MIN_DESCRIPTION_CHARS = 4
MAX_DESCRIPTION_CHARS = 2000
COMPLAINT_FORM = "complaint_form"
# What the record service keeps of a picture, and how many (record_service/validation.py).
EVIDENCE_FIELDS = ("kind", "channel", "media_id", "url", "received_at")
MAX_EVIDENCE_ITEMS = 9
# What the complaint form's questions tell the channel: pictures sent now are evidence
# (the channel marks them `evidence_for: complaint`, read by `complaint_evidence`).
WANTS_COMPLAINT_EVIDENCE = ChannelMetadata(evidence_for="complaint")


def parse_category(text: str) -> str | None:
    """The complaint category a shopper's words name, or None."""
    normalised = normalize(text).text
    return next((category for category, words in CATEGORY_KEYWORDS if words.search(normalised)), None)


def is_description(text: str) -> bool:
    """Whether `text` says what happened, beyond "我要投诉" (a button's "/intent" never does)."""
    return not text.startswith("/") and len(_COMPLAINT_WORDS.sub("", text)) >= MIN_DESCRIPTION_CHARS


def declines_contact(text: str, intent: str | None) -> bool:
    """Whether the answer to "联系电话？" says the shopper would rather not leave one."""
    return intent == "deny" or bool(_DECLINES_CONTACT.search(normalize(text).text))


def words_since_form_started(events: list[dict[str, Any]]) -> list[str]:
    """What the shopper wrote since the latest complaint form started, oldest first."""
    words: list[str] = []
    for event in reversed(events):
        if event.get("event") == "active_loop" and event.get("name") == COMPLAINT_FORM:
            break
        text = str(event.get("text") or "") if event.get("event") == "user" else ""
        if text and not text.startswith("/"):
            words.append(text)
    return list(reversed(words))


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


class ValidateComplaintForm(BoundedQuestions, FormValidationAction):
    """Checks the description, the category and the contact number of a complaint.

    No question stops the complaint: asked twice without a usable answer, the
    description is what the shopper said, the category is "other", and the contact
    number is left out (as when the shopper declines to give one).
    """

    def name(self) -> str:
        return "validate_complaint_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if tracker.get_slot("contact_declined"):
            return [slot for slot in domain_slots if slot != "contact_phone"]
        return domain_slots

    async def give_up(
        self, slot: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if slot == "complaint_description":
            words = "；".join(words_since_form_started(tracker.events))
            return {"complaint_description": (words or NO_DESCRIPTION)[:MAX_DESCRIPTION_CHARS]}
        if slot == "complaint_category":
            return {"complaint_category": "other"}
        return {"contact_declined": True}

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
        return {"complaint_category": category}  # None: asked again with the list

    async def validate_contact_phone(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        mobile = find_mobile(str(slot_value or ""))
        if mobile is None and declines_contact(latest_text(tracker), latest_intent(tracker)):
            return {"contact_phone": None, "contact_declined": True}
        return {"contact_phone": mobile}  # None: asked again, saying why (action_ask_contact_phone)


class ComplaintAsk(BoundedAsk, ABC):
    """A question of the complaint form: its message tells the channel that the pictures
    the shopper sends while it is open are evidence for the complaint."""

    async def ask(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, *, again: bool
    ) -> None:
        dispatcher.utter_message(
            response=self.again_response if again else self.first_response,
            **WANTS_COMPLAINT_EVIDENCE.message_values(),
        )


class ActionAskComplaintDescription(ComplaintAsk):
    """Asks what happened; the second time with an example."""

    slot = "complaint_description"
    first_response = "utter_ask_complaint_description"
    again_response = "utter_ask_complaint_description_again"

    def name(self) -> str:
        return "action_ask_complaint_description"


class ActionAskComplaintCategory(ComplaintAsk):
    """Asks which kind of problem; the second time lists the kinds to pick from."""

    slot = "complaint_category"
    first_response = "utter_ask_complaint_category"
    again_response = "utter_ask_complaint_category_again"

    def name(self) -> str:
        return "action_ask_complaint_category"


class ActionAskContactPhone(ComplaintAsk):
    """Asks for a contact number; the second time says why, and that "不留" is fine."""

    slot = "contact_phone"
    first_response = "utter_ask_contact_phone"
    again_response = "utter_ask_contact_phone_again"

    def name(self) -> str:
        return "action_ask_contact_phone"


class ActionCreateComplaint(Action):
    """Opens the complaint ticket with its deadline and tells the shopper both."""

    def name(self) -> str:
        return "action_create_complaint"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        svc = services()
        now = svc.clock()
        decision = svc.policy.complaint_deadline(now)
        order_id = str(tracker.get_slot("order_id")) if is_verified(tracker) else None
        conversation = conversation_id(tracker)
        complaint = NewComplaint(
            conversation_id=conversation,
            channel=channel_of(tracker),
            order_id=order_id,
            category=str(tracker.get_slot("complaint_category") or "other"),
            description=str(tracker.get_slot("complaint_description") or ""),
            contact_phone=tracker.get_slot("contact_phone"),
            due_at=str(decision.facts["due_at"]),
            rule=decision.rule,
            evidence=complaint_evidence(tracker.events),
            # Drawn here, so the shopper is told the number even while the record
            # service is down: the outbox delivers the ticket with it later.
            ticket_id=new_ticket_id(COMPLAINT_PREFIX, now),
            occurred_at=now,
        )
        queued = await queue_write(
            "complaint", complaint.to_json(), idempotency_key(tracker, "complaint"), conversation
        )
        if queued is None:
            dispatcher.utter_message(response="utter_records_unavailable")
            return []
        order = await verified_order_if_reachable(tracker) if order_id else None
        if order is not None and order.status == "shipped":
            dispatcher.utter_message(
                response="utter_complaint_order_in_flight",
                order_id=order.order_id,
                status=ORDER_STATUS_NAMES[order.status],
                shipment_note=shipment_note(order),
            )
        # A retried action tells what the first try queued.
        due_at = local_time(str(queued.body["due_at"]), svc.policy)
        told = {"ticket_id": str(queued.body["ticket_id"]), "due_at": due_at}
        if complaint.contact_phone:
            dispatcher.utter_message(response="utter_complaint_created", **told)
        elif order_id:
            response = "utter_complaint_created_order_phone"
            dispatcher.utter_message(response=response, order_id=order_id, **told)
        else:
            dispatcher.utter_message(response="utter_complaint_created_no_phone", **told)
        return [
            SlotSet("complaint_description", None),
            SlotSet("complaint_category", None),
            SlotSet("contact_declined", False),
        ]
