"""Handing the conversation to a person, with everything the agent needs.

A handoff ticket carries the context: a short Chinese summary, the transcript, the
slots, the order snapshot (only for a verified owner), the reason and the priority.
Priorities come from the policy (HANDOFF-PRIORITY); strong anger or distress moves a
ticket one step up. Outside human service hours (SERVICE-HOURS) the ticket becomes a
scheduled callback and the shopper is told when.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.conversation import (
    channel_of,
    conversation_id,
    idempotency_key,
    latest_intent,
    transcript,
)
from bot.actions.http_client import ServiceError
from bot.actions.order_client import Order
from bot.actions.ownership import verified_order_if_reachable
from bot.actions.records_client import HandoffStatus, NewHandoff
from bot.actions.service_records import queue_write
from bot.actions.services import call, services
from bot.policy import Policy
from bot.policy.model import HANDOFF_PRIORITY, SERVICE_OPEN, HandoffReason
from service_common.channel_metadata import ChannelMetadata, HandoffNotice
from service_common.channels import RELAYED_CHANNELS
from service_common.pii import mask_phone
from service_common.tickets import HANDOFF_PREFIX, new_ticket_id

logger = logging.getLogger(__name__)

# The most urgent queue priority of HANDOFF-PRIORITY ("1 最优先").
MOST_URGENT_PRIORITY = 1
# Tickets at priority 1 or 2 (urgent matters, what is beyond the bot's authority, and a
# distressed shopper's next level) are told they are expedited (加急). The file ranks
# reasons but does not say which ranks are "urgent" to the shopper, so the bot does.
EXPEDITED_MAX_PRIORITY = 2
# How many of the shopper's latest messages are read for anger or distress.
DISTRESS_MESSAGES_READ = 3
# How much of the shopper's last words the agent's summary quotes.
SUMMARY_QUOTE_CHARS = 200
# What the shopper's latest intent says about why a person is needed.
REASON_BY_INTENT: dict[str, HandoffReason] = {
    "request_human": "user_request",
    "request_compensation": "beyond_authority",
    "report_urgent_issue": "urgent",
    "nlu_fallback": "repeated_failure",
}
# Words of strong anger or distress: insults, threats to escalate, repeated urging.
DISTRESS_PATTERN = re.compile(
    r"投诉到底|曝光|媒体|律师|起诉|法院|12315|骗子|垃圾|气死|太过分|什么破|滚|马上|立刻|赶紧|快点|"
    r"到底|!{2,}|！{2,}|？{2,}|\?{2,}"
)
INTENT_SUMMARY = {
    "request_human": "顾客要求人工服务",
    "request_compensation": "顾客要求赔偿，超出机器人权限",
    "report_urgent_issue": "紧急情况（账户安全/支付异常等）",
    "check_refund_status": "查询退款进度",
    "request_return": "申请退货",
    "request_exchange": "申请换货",
    "report_quality_issue": "反映商品质量问题",
    "file_complaint": "投诉",
    "check_order_status": "查询订单物流",
}
REASON_SUMMARY: dict[HandoffReason, str] = {
    "user_request": "顾客主动要求转人工",
    "beyond_authority": "诉求超出机器人权限",
    "repeated_failure": "机器人多次未能理解或核验失败",
    "urgent": "紧急事项，优先处理",
    "overdue_refund": "退款已超过处理时限",
    "system_error": "系统故障，机器人无法完成操作",
    "other": "其他原因",
}


def is_distressed(texts: list[str]) -> bool:
    """Whether the shopper's words show strong anger or distress (raises priority)."""
    return any(DISTRESS_PATTERN.search(text) for text in texts)


def shopper_is_distressed(tracker: Tracker) -> bool:
    """Whether the shopper's last three messages show strong anger or distress."""
    shopper_texts = [t["text"] for t in transcript(tracker) if t["role"] == "shopper"]
    return is_distressed(shopper_texts[-DISTRESS_MESSAGES_READ:])


def priority_for(policy: Policy, reason: HandoffReason, distressed: bool) -> int:
    """The queue priority: the policy's for the reason, one step more urgent if distressed."""
    priority = policy.handoff_priority(reason)
    return max(MOST_URGENT_PRIORITY, priority - 1) if distressed else priority


def expedited(priority: int) -> bool:
    """Whether the shopper is told the ticket is expedited (加急)."""
    return priority <= EXPEDITED_MAX_PRIORITY


def summary_for(tracker: Tracker, reason: HandoffReason, order: Order | None) -> str:
    """A short Chinese summary for the agent: what the shopper wants, which order, why."""
    wants = next(
        (
            INTENT_SUMMARY[event["parse_data"]["intent"]["name"]]
            for event in reversed(tracker.events)
            if event.get("event") == "user"
            and (event.get("parse_data") or {}).get("intent", {}).get("name") in INTENT_SUMMARY
        ),
        "未识别到具体诉求",
    )
    parts = [f"诉求：{wants}", f"转人工原因：{REASON_SUMMARY.get(reason, reason)}"]
    if order is not None:
        names = "、".join(item.name for item in order.items)
        parts.append(f"订单：{order.order_id}（{names}，身份已核验）")
    elif tracker.get_slot("order_id"):
        parts.append(f"订单：{tracker.get_slot('order_id')}（身份未核验）")
    else:
        parts.append("订单：未提供")
    # A button or key press arrives as "/intent": quote what the shopper last wrote instead.
    written = [t["text"] for t in transcript(tracker) if t["role"] == "shopper" and t["text"][:1] != "/"]
    parts.append(f"顾客原话：{(written[-1] if written else '（顾客点选了按钮）')[:SUMMARY_QUOTE_CHARS]}")
    return "；".join(parts)


def _beijing(moment: datetime, policy: Policy) -> str:
    return moment.astimezone(policy.timezone).strftime("%m月%d日 %H:%M")


@dataclass(frozen=True)
class Handoff:
    """What became of a handoff.

    Attributes:
        stored: Whether the ticket is stored.
        agent_waiting: Whether an agent is online to take it on the shopper's channel
            now: the bot should pause (`ConversationPaused`) until the agent resolves it.
    """

    stored: bool
    agent_waiting: bool = False


def handoff_notice(body: Mapping[str, Any], status: HandoffStatus) -> HandoffNotice:
    """What the shopper's channel is told of a handoff ticket.

    Args:
        body: The ticket as queued for the record service (a retried action's is the
            first try's, as the record service keeps it).
        status: What the shopper is told now: a person now, or a callback.
    """
    context = body.get("context")
    callback_at = body.get("callback_at")
    order_id = body.get("order_id")
    return HandoffNotice(
        ticket_id=str(body["ticket_id"]),
        status=status,
        priority=int(body["priority"]),
        reason=str(body["reason"]),
        order_id=str(order_id) if order_id is not None else None,
        summary=str(context["summary"]) if isinstance(context, Mapping) and context.get("summary") else None,
        # In UTC, as the record service answers it.
        callback_at=(
            datetime.fromisoformat(str(callback_at)).astimezone(timezone.utc).isoformat()
            if callback_at is not None
            else None
        ),
    )


async def _agents_online() -> int:
    try:
        return await call(services().records.desk_presence)
    except ServiceError as error:
        logger.warning("agent presence unknown (%s): the bot goes on until an agent claims", error)
        return 0


async def hand_off(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    reason: HandoffReason,
    *,
    order: Order | None = None,
    announce: bool = True,
) -> Handoff:
    """Creates a handoff ticket with its record and tells the shopper what happens next.

    On a relayed channel with an agent online the shopper is told to wait for the
    person; with none online, when a person will answer, and the bot goes on meanwhile
    (the agent workspace pauses the bot when an agent claims the ticket).

    Args:
        dispatcher: Where the shopper's messages go.
        tracker: The conversation.
        reason: A record-contract handoff reason.
        order: The order, only when its owner is verified in this conversation.
        announce: False when the caller already told the shopper a person will follow.

    Returns:
        Whether the ticket is stored and an agent is waiting for it.
    """
    svc = services()
    policy = svc.policy
    now = svc.clock()
    priority = priority_for(policy, reason, shopper_is_distressed(tracker))
    hours = policy.service_hours(now)
    status: HandoffStatus
    if hours.outcome == SERVICE_OPEN:
        status, callback_at = "queued", None
        due_at = now + timedelta(minutes=policy.handoff_response_minutes(priority))
    else:
        status = "callback_scheduled"
        callback_at = datetime.fromisoformat(hours.facts["next_open_at"])
        due_at = callback_at + timedelta(minutes=policy.handoff_response_minutes(priority))
    contact = tracker.get_slot("contact_phone")
    slots = {
        name: value
        for name, value in tracker.current_slot_values().items()
        if value is not None and name not in ("contact_phone", "requested_slot")
    }
    conversation = conversation_id(tracker)
    request = NewHandoff(
        conversation_id=conversation,
        channel=channel_of(tracker),
        order_id=order.order_id if order else None,
        reason=reason,
        priority=priority,
        status=status,
        due_at=due_at,
        callback_at=callback_at,
        rule=HANDOFF_PRIORITY,
        context={
            "summary": summary_for(tracker, reason, order),
            "transcript": transcript(tracker),
            "slots": slots,
            "order_snapshot": order.snapshot() if order else None,
            "contact_masked": mask_phone(str(contact)) if contact else None,
            "intent": latest_intent(tracker),
        },
        # Drawn here, so the shopper is told the number even while the record service is
        # down: the outbox delivers the ticket with it later.
        ticket_id=new_ticket_id(HANDOFF_PREFIX, now),
        occurred_at=now,
    )
    key = idempotency_key(tracker, "handoff", reason)
    queued = await queue_write("handoff", request.to_json(), key, conversation)
    if queued is None:
        dispatcher.utter_message(response="utter_handoff_unavailable")
        return Handoff(stored=False)
    ticket_id = str(queued.body["ticket_id"])  # a retried action tells the first try's number
    # The channel learns of the ticket from the message that announces it (the phone line
    # puts the call through with it): no second read of the record service.
    told_channel = ChannelMetadata(handoff=handoff_notice(queued.body, status)).message_values()
    relayed = channel_of(tracker) in RELAYED_CHANNELS
    agent_waiting = status == "queued" and relayed and await _agents_online() > 0
    if status == "callback_scheduled":
        dispatcher.utter_message(
            response="utter_handoff_callback",
            ticket_id=ticket_id,
            open_at=hours.facts["open_at"],
            close_at=hours.facts["close_at"],
            callback_at=_beijing(callback_at or now, policy),
            **told_channel,
        )
    elif announce and relayed and not agent_waiting:
        dispatcher.utter_message(
            response="utter_handoff_no_agent_online",
            ticket_id=ticket_id,
            due_at=_beijing(due_at, policy),
            **told_channel,
        )
    elif announce:
        dispatcher.utter_message(
            response="utter_handoff_queued_urgent" if expedited(priority) else "utter_handoff_queued",
            ticket_id=ticket_id,
            **told_channel,
        )
    return Handoff(stored=True, agent_waiting=agent_waiting)


class ActionHandoff(Action):
    """Hands over on request, beyond authority, or for urgent matters."""

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        reason = REASON_BY_INTENT.get(latest_intent(tracker) or "", "other")
        if reason == "beyond_authority":
            dispatcher.utter_message(response="utter_handoff_beyond_authority")
        order = await verified_order_if_reachable(tracker)
        return events_after_handoff(await hand_off(dispatcher, tracker, reason, order=order))


def events_after_handoff(handoff: Handoff) -> list[EventType]:
    """What a conversation does once handed over: any form ends, and the bot pauses while
    an agent is waiting to take it (resumed when the agent resolves the ticket)."""
    events: list[EventType] = [ActiveLoop(None), SlotSet("requested_slot", None)]
    if handoff.agent_waiting:
        events.append(ConversationPaused())
    return events
