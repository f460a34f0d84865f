"""Returns and exchanges: is this item returnable, and filing the return on a yes.

The decision is the policy engine's (RET-*, QUALITY-RETURN, EXCHANGE-NON-QUALITY,
SHIPPING-PAYER); this module only asks what the decision needs, records it, and says it.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import cn2an
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.conversation import idempotency_key, latest_intent, mentioned
from bot.actions.handoff import hand_off
from bot.actions.http_client import RequestRejectedError, ServiceError
from bot.actions.identity import OrderFormValidation
from bot.actions.order_client import Item, Order
from bot.actions.ownership import forget_orders, verified_order, verified_order_if_reachable
from bot.actions.prompts import BoundedAsk
from bot.actions.refunds import tell_refund_status
from bot.actions.service_records import write_decision
from bot.actions.services import call, services
from bot.nlu.normalize import normalize
from bot.policy import Decision
from bot.policy.model import ELIGIBLE, NOT_DELIVERED, NOT_INTACT, QUALITY_ISSUE, WINDOW_EXPIRED

# "没穿过", "还没拆", "未激活", "没剪吊牌", "没有破损": a use or damage that did NOT happen,
# which speaks for intact goods.
_NEGATED_USE = re.compile(
    r"(?:没有|没|未|还没|从没|从来没|不曾)(?:有)?(?:任何)?"
    r"(?:穿|用|拆|激活|打开|洗|试|动|开封|使用|戴|开|剪|弄坏|弄脏|损坏|破损|磨损|划|坏|脏)(?:过|开|封|了)?"
)
_USED = re.compile(
    r"穿过|用过|使用过|拆封|拆开|拆了|打开了|开封|激活了|已激活|剪|拆掉|吊牌没了|没有吊牌|试了|试用|试穿|洗过|弄脏|脏了|破损|损坏|磨损|划痕|坏了|不完好|不完整|缺"
    r"|穿了|用了|戴过|戴了|不是全新|不是完好|不全新"
)
_INTACT = re.compile(
    r"完好|全新|(?:吊牌|标签|配件|包装).{0,3}在|没问题|完整|齐全|好好的|好的|原封|^是的?$|^对$|^嗯$|^在的?$|^都在"
)
EXCLUSION_NAMES = {
    "customized": "按您的要求定制的商品",
    "perishable": "鲜活易腐商品",
    "digital_download": "在线下载或已拆封的数字商品",
    "periodical": "已交付的报纸、期刊",
    "confirmed_non_returnable": "下单时已确认“不支持七天无理由退货”的商品",
}
REMEDY_NAMES = {"return": "退货", "exchange": "换货", "repair": "维修"}
# The date part of an ISO date or time: "2024-12-06" of "2024-12-06T10:00:00+08:00".
ISO_DATE_CHARS = len("2024-12-06")


def parse_intact(text: str) -> bool | None:
    """Reads a shopper's answer to "is it intact?": True, False, or None when unclear."""
    normalised = normalize(text).text.strip()
    negated = bool(_NEGATED_USE.search(normalised))
    remainder = _NEGATED_USE.sub("", normalised)
    if _USED.search(remainder):
        return False
    if negated or _INTACT.search(remainder):
        return True
    return None


_ORDINAL = re.compile(r"^(?:第)?(\d{1,2}|[一二两三四五六七八九十]{1,3})(?:个|件|款|项)?$")


def item_named(order: Order, words: str | None) -> Item | None:
    """The order line `words` name (a product mentioned, or an answer to "which item?")."""
    if not words:
        return None
    text = normalize(words).text.strip()
    ordinal = _ORDINAL.match(text)
    if ordinal:  # "2", "第二个": the line's place in the list the bot showed
        place = int(cn2an.cn2an(ordinal.group(1).replace("两", "二"), "smart"))
        return order.items[place - 1] if 1 <= place <= len(order.items) else None
    for item in order.items:
        if text and (text in item.name or item.name in text or item.sku == words.strip()):
            return item
    return None


def chosen_item(order: Order, tracker: Tracker) -> Item | None:
    """The order line the shopper means, or None while an order of several lines leaves it open.

    An order of one line needs no question; otherwise the item picked in the form
    (`return_item`, a SKU) or a product named in the conversation decides.
    """
    if len(order.items) == 1:
        return order.items[0]
    picked = tracker.get_slot("return_item")
    return item_named(order, picked) or item_named(order, mentioned(tracker, "product"))


def month_day(iso_date: str | None) -> str:
    """An ISO date (or time) as the shopper reads a day: "12月6日"; empty when unknown."""
    if not iso_date:
        return ""
    day = date.fromisoformat(iso_date[:ISO_DATE_CHARS])
    return f"{day.month}月{day.day}日"


def evaluate(order: Order, item: Item, tracker: Tracker, intact: bool | None) -> Decision:
    """The policy's decision for the item the shopper means, as far as it is known."""
    svc = services()
    decide = (
        svc.policy.exchange_eligibility
        if tracker.get_slot("request_kind") == "exchange"
        else svc.policy.return_eligibility
    )
    decision = decide(
        order,
        item,
        now=svc.clock(),
        intact=intact,
        quality_issue=bool(tracker.get_slot("quality_issue")),
    )
    return decision


def refund_already_requested(tracker: Tracker, order: Order) -> bool:
    """Whether "我要退款" is about a refund the order already has: then its status is the answer."""
    return tracker.get_slot("request_kind") == "refund" and bool(order.refunds)


def _intact_value(tracker: Tracker) -> bool | None:
    answer = tracker.get_slot("item_intact")
    return None if answer is None else answer == "yes"


class ValidateReturnForm(OrderFormValidation):
    """Asks the order, the owner's phone digits, and whether the goods are intact if needed."""

    def name(self) -> str:
        return "validate_return_form"

    async def slots_after_identity(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        order = await verified_order_if_reachable(tracker)  # a failure: the decision step says so
        if order is None or refund_already_requested(tracker, order):
            return []
        # Which item first (the decision depends on it), then whether it is intact.
        slots = ["return_item"] if len(order.items) > 1 else []
        item = chosen_item(order, tracker)
        if item is None:
            return ["return_item"]
        if tracker.get_slot("item_intact") is not None:
            return [*slots, "item_intact"]
        decision = evaluate(order, item, tracker, None)
        return [*slots, "item_intact"] if "intact" in decision.facts.get("missing", []) else slots

    async def extract_return_item(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A product named anywhere in the conversation answers "which item?" unasked."""
        if tracker.get_slot("return_item") is not None:
            return {}
        product = mentioned(tracker, "product")
        return {"return_item": product} if product else {}

    async def validate_return_item(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        order = await verified_order_if_reachable(tracker)
        if order is None:
            return {"return_item": None}
        item = item_named(order, str(slot_value or ""))
        if item is None:  # asked again with the list (action_ask_return_item)
            return {"return_item": None}
        return {"return_item": item.sku}

    async def validate_item_intact(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        intact = parse_intact(str(slot_value or ""))
        if intact is None:  # asked again, saying why (action_ask_item_intact)
            return {"item_intact": None}
        return {"item_intact": "yes" if intact else "no"}


class ActionCheckReturnEligibility(Action):
    """Decides, records and explains whether the item can be returned or exchanged."""

    def name(self) -> str:
        return "action_check_return_eligibility"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.get_slot("form_aborted"):
            return [SlotSet("form_aborted", False)]
        try:
            order = await verified_order(tracker)
        except ServiceError:
            dispatcher.utter_message(response="utter_service_unavailable")
            await hand_off(dispatcher, tracker, "system_error")
            return []
        if order is None:
            return []
        if refund_already_requested(tracker, order):
            await tell_refund_status(dispatcher, tracker, order)
            return [SlotSet("item_intact", None)]
        item = chosen_item(order, tracker)
        if item is None:  # the form asks which item; a second look is not expected to miss
            return [SlotSet("item_intact", None)]
        decision = evaluate(order, item, tracker, _intact_value(tracker))
        if not await write_decision(tracker, "return_eligibility", order.order_id, decision):
            dispatcher.utter_message(response="utter_records_unavailable")
            return []
        offer = self._explain(dispatcher, tracker, order, item, decision)
        # The item stays picked while the offer to file its return is open.
        return [
            SlotSet("return_offer", "eligible" if offer else None),
            SlotSet("item_intact", None),
            *([] if offer else [SlotSet("return_item", None)]),
        ]

    @staticmethod
    def _explain(
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        order: Order,
        item: Item,
        decision: Decision,
    ) -> bool:
        """Tells the shopper the decision; True when a return is offered."""
        facts = decision.facts
        deadline = month_day(facts.get("deadline"))
        common = {"order_id": order.order_id, "item_name": item.name, "deadline": deadline}
        payer = "商家" if facts.get("shipping_paid_by") == "merchant" else "您"
        if decision.outcome == ELIGIBLE:
            if decision.reason == QUALITY_ISSUE:
                remedies = "、".join(REMEDY_NAMES[r] for r in facts.get("remedies", []))
                dispatcher.utter_message(
                    response="utter_return_eligible_quality", remedies=remedies, **common
                )
                return "return" in facts.get("remedies", [])
            if tracker.get_slot("request_kind") == "exchange":
                dispatcher.utter_message(response="utter_exchange_eligible", shipping_payer=payer, **common)
                return False
            dispatcher.utter_message(response="utter_return_eligible", shipping_payer=payer, **common)
            return True
        reason = decision.reason
        if reason == NOT_DELIVERED:
            shipped = order.status == "shipped"
            dispatcher.utter_message(
                response="utter_return_not_delivered_shipped"
                if shipped
                else "utter_return_not_delivered_unshipped",
                order_id=order.order_id,
            )
        elif reason == WINDOW_EXPIRED:
            dispatcher.utter_message(
                response="utter_return_not_eligible_window",
                signed_on=month_day(facts.get("signed_on")),
                **common,
            )
        elif reason == NOT_INTACT:
            dispatcher.utter_message(response="utter_return_not_eligible_not_intact")
        else:
            dispatcher.utter_message(
                response="utter_return_not_eligible_excluded",
                exclusion=EXCLUSION_NAMES.get(str(reason), "不适用无理由退货的商品"),
                **common,
            )
        return False


class ActionReplyToReturnOffer(Action):
    """Files the return when the shopper says yes to the offer; lets it be on a no."""

    def name(self) -> str:
        return "action_reply_to_return_offer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        reset: list[EventType] = [SlotSet("return_offer", None), SlotSet("return_item", None)]
        order: Order | None = None
        item: Item | None = None
        # The intent itself, not the ranking: a "/affirm" button payload has no ranking.
        if latest_intent(tracker) != "affirm":
            dispatcher.utter_message(response="utter_return_not_filed")
            return reset
        try:
            order = await verified_order(tracker)
            if order is None:
                dispatcher.utter_message(response="utter_anything_else")
                return reset
            item = chosen_item(order, tracker) or order.items[0]
            quality = bool(tracker.get_slot("quality_issue"))
            created = await call(
                services().orders.create_return,
                order.order_id,
                skus=[item.sku],
                return_type="return",
                reason="质量问题" if quality else "七天无理由退货",
                quality_issue=quality,
                idempotency_key=idempotency_key(tracker, "return", order.order_id, item.sku),
            )
            forget_orders()  # the order now has a return
        except RequestRejectedError as error:
            if error.code == "return_exists" and order is not None and item is not None:
                existing = next((r.return_id for r in order.returns if item.sku in r.skus), "")
                dispatcher.utter_message(response="utter_return_exists", return_id=existing)
                return reset
            dispatcher.utter_message(response="utter_records_unavailable")
            return reset
        except ServiceError:
            dispatcher.utter_message(response="utter_service_unavailable")
            await hand_off(dispatcher, tracker, "system_error")
            return reset
        dispatcher.utter_message(response="utter_return_created", return_id=created.return_id)
        return reset


class ActionAskReturnItem(BoundedAsk):
    """Asks which item of an order of several lines, with a button per line."""

    slot = "return_item"

    def name(self) -> str:
        return "action_ask_return_item"

    async def ask(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, *, again: bool
    ) -> None:
        order = await verified_order_if_reachable(tracker)
        buttons = [
            {"title": f"{place}. {item.name}", "payload": item.name}
            for place, item in enumerate(order.items if order else [], start=1)
        ]
        response = "utter_ask_return_item_again" if again else "utter_ask_return_item"
        dispatcher.utter_message(response=response, buttons=buttons)


class ActionAskItemIntact(BoundedAsk):
    """Asks whether the goods are intact; the second time says why it matters."""

    slot = "item_intact"
    first_response = "utter_ask_item_intact"
    again_response = "utter_ask_item_intact_again"

    def name(self) -> str:
        return "action_ask_item_intact"
