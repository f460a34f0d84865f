"""Evaluation of the after-sales policy: :class:`Policy` answers questions with :class:`Decision`s.

The module is pure: it never reads the clock (``now`` is always passed in), reads no
file (:func:`bot.policy.loader.load_policy` does) and talks to no network. Business
dates (the day goods were signed for, working days) are dates in the policy's time zone
(Asia/Shanghai).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bot.policy.model import (
    AUTHORITY_KINDS,
    AUTHORITY_LIMIT,
    BEYOND_AUTHORITY,
    CENTS,
    COMPLAINT_24H,
    COMPLAINT_CREATED,
    DELIVERED_ORDER_STATUSES,
    ELIGIBLE,
    EXCHANGE_NON_QUALITY,
    EXCLUSION_RULE_FLAGS,
    HANDOFF_REASONS,
    NEEDS_INFO,
    NOT_DELIVERED,
    NOT_ELIGIBLE,
    NOT_INTACT,
    QUALITY_ISSUE,
    QUALITY_RETURN,
    REFUND_COMPLETED,
    REFUND_DEADLINE,
    REFUND_NONE,
    REFUND_ON_TIME,
    REFUND_OVERDUE,
    REFUND_OWED_STATUSES,
    REFUND_PAID_STATUSES,
    REFUND_REJECTED_STATUSES,
    RET_7D_WINDOW,
    RET_INTACT,
    RET_NOT_DELIVERED,
    SERVICE_CLOSED,
    SERVICE_HOURS,
    SERVICE_OPEN,
    SHIPPING_PAYER,
    WINDOW_EXPIRED,
    WITHIN_AUTHORITY,
    WITHIN_WINDOW,
    AuthorityKind,
    Decision,
    HandoffReason,
    ItemLike,
    OrderLike,
    PolicySettings,
    RefundLike,
    RuleId,
    RuleInfo,
)
from service_common.workdays import WorkingDayCalendar

END_OF_DAY = time(23, 59, 59)


class Policy:
    """The validated after-sales policy; evaluates questions into :class:`Decision`s.

    Attributes:
        timezone: Time zone of business dates and service hours (Asia/Shanghai).
        calendar: PRC working-day calendar, with the file's fallback data.
        rules: Title and source of each rule, by rule id.
        settings: Every number of the file.
    """

    def __init__(
        self,
        *,
        timezone: ZoneInfo,
        calendar: WorkingDayCalendar,
        rules: Mapping[str, RuleInfo],
        settings: PolicySettings,
    ) -> None:
        """Creates a policy from validated parts; use :func:`load_policy` instead."""
        self.timezone = timezone
        self.calendar = calendar
        self.rules = rules
        self.settings = settings

    @property
    def max_identity_attempts(self) -> int:
        """Failed identity checks allowed before the bot hands the shopper to a person."""
        return self.settings.max_identity_attempts

    # ---- returns and exchanges -------------------------------------------------------

    def return_eligibility(
        self,
        order: OrderLike,
        item: ItemLike,
        *,
        now: datetime,
        intact: bool | None,
        quality_issue: bool,
    ) -> Decision:
        """Decides whether ``item`` may be returned now.

        Checks, in order: delivered; quality problem; legal exclusions; exclusions
        confirmed at purchase; the 7-day window; whether the goods are intact.

        Args:
            order: The order the item belongs to.
            item: The order line the shopper wants to return.
            now: The current time (timezone-aware).
            intact: Whether the goods are intact (完好); None when not asked yet.
            quality_issue: Whether the shopper reports a quality problem.

        Returns:
            ``eligible`` (reason ``within_window`` or ``quality_issue``),
            ``not_eligible`` (the contract reason), or ``needs_info`` with
            ``facts["missing"]`` listing what to ask.
        """
        return self._item_decision(
            order,
            item,
            now=now,
            intact=intact,
            quality_issue=quality_issue,
            window_rule=RET_7D_WINDOW,
            window_days=self.settings.return_window_days,
        )

    def exchange_eligibility(
        self,
        order: OrderLike,
        item: ItemLike,
        *,
        now: datetime,
        intact: bool | None,
        quality_issue: bool,
    ) -> Decision:
        """Decides whether ``item`` may be exchanged now.

        Same checks as :meth:`return_eligibility`; without a quality problem the window
        is EXCHANGE-NON-QUALITY's, and the exclusions apply because such goods cannot be
        resold (000 §7.5: exchange "不导致再次销售困难").

        Args:
            order: The order the item belongs to.
            item: The order line the shopper wants to exchange.
            now: The current time (timezone-aware).
            intact: Whether the goods are intact (完好); None when not asked yet.
            quality_issue: Whether the shopper reports a quality problem.

        Returns:
            A decision with the same outcomes and reasons as a return decision.
        """
        return self._item_decision(
            order,
            item,
            now=now,
            intact=intact,
            quality_issue=quality_issue,
            window_rule=EXCHANGE_NON_QUALITY,
            window_days=self.settings.exchange_window_days,
        )

    def _item_decision(
        self,
        order: OrderLike,
        item: ItemLike,
        *,
        now: datetime,
        intact: bool | None,
        quality_issue: bool,
        window_rule: RuleId,
        window_days: int,
    ) -> Decision:
        _require_aware(now, "now")
        base: dict[str, Any] = {"order_id": order.order_id, "sku": item.sku}
        if order.delivered_at is None or order.status not in DELIVERED_ORDER_STATUSES:
            return _not_delivered(order, base)
        signed_on = self._local_date(order.delivered_at, "order.delivered_at")
        today = self._local_date(now, "now")
        base["signed_on"] = signed_on.isoformat()
        if quality_issue:
            return self._quality_decision(signed_on, today, base)
        exclusion = self._exclusion(item, base)
        if exclusion is not None:
            return exclusion
        deadline = signed_on + timedelta(days=window_days)
        facts = {**base, "deadline": deadline.isoformat()}
        if today > deadline:
            return Decision(window_rule, NOT_ELIGIBLE, WINDOW_EXPIRED, facts)
        if self.settings.intact_required:
            if intact is None:
                return Decision(RET_INTACT, NEEDS_INFO, None, {**facts, "missing": ["intact"]})
            if not intact:
                return Decision(RET_INTACT, NOT_ELIGIBLE, NOT_INTACT, facts)
        return Decision(
            window_rule, ELIGIBLE, WITHIN_WINDOW, {**facts, **self._return_shipping(order)}
        )

    def _quality_decision(self, signed_on: date, today: date, base: dict[str, Any]) -> Decision:
        quality = self.settings.quality
        return_deadline = signed_on + timedelta(days=quality.return_days)
        deadline = signed_on + timedelta(days=quality.exchange_or_repair_days)
        facts = {
            **base,
            "deadline": deadline.isoformat(),
            "return_deadline": return_deadline.isoformat(),
        }
        if today > deadline:
            return Decision(QUALITY_RETURN, NOT_ELIGIBLE, WINDOW_EXPIRED, facts)
        remedies = ["exchange", "repair"]
        if today <= return_deadline:
            remedies.insert(0, "return")
        # The merchant pays shipping for quality problems by law (000 §8.5).
        facts.update(
            remedies=remedies,
            shipping_paid_by="merchant",
            shipping_basis="quality_issue",
            shipping_rule=QUALITY_RETURN,
        )
        return Decision(QUALITY_RETURN, ELIGIBLE, QUALITY_ISSUE, facts)

    def _exclusion(self, item: ItemLike, base: dict[str, Any]) -> Decision | None:
        for rule_id, flag in EXCLUSION_RULE_FLAGS.items():
            if flag in item.flags and self.settings.exclusions_enforced[rule_id]:
                return Decision(rule_id, NOT_ELIGIBLE, flag, {**base, "item_flag": flag})
        return None

    def _return_shipping(self, order: OrderLike) -> dict[str, str]:
        shipping = self.settings.shipping
        if shipping.free_return_promise:
            payer, basis = "merchant", "free_return_promise"
        elif order.return_shipping_insurance and shipping.merchant_pays_when_insured:
            payer, basis = "merchant", "return_shipping_insurance"
        else:
            payer, basis = "consumer", "default"
        return {"shipping_paid_by": payer, "shipping_basis": basis, "shipping_rule": SHIPPING_PAYER}

    # ---- refunds ---------------------------------------------------------------------

    def refund_status(
        self, refund: RefundLike | None, *, now: datetime, service_goods: bool = False
    ) -> Decision:
        """Tells whether a refund is paid, on time or overdue (000 §7.8).

        A ``processing`` or ``failed`` refund is still owed and is judged by its
        deadline: the end of the first working day after the goods came back (refund
        with a return) or after the refund was agreed (without a return, or service
        goods). A ``rejected`` refund is owed nothing, so its outcome is ``none`` with
        the status in the facts.

        Args:
            refund: The order's refund, or None when it has none.
            now: The current time (timezone-aware).
            service_goods: True for a refund of service goods (服务类商品).

        Returns:
            ``completed``, ``on_time``, ``overdue`` or ``none``; facts hold refund_id,
            status, method, amount, due_by and expected_arrival.

        Raises:
            ValueError: On a refund status the order system does not define.
        """
        _require_aware(now, "now")
        if refund is None:
            return Decision(REFUND_DEADLINE, REFUND_NONE, None, {"refund_id": None})
        facts: dict[str, Any] = {
            "refund_id": refund.refund_id,
            "status": refund.status,
            "method": refund.method,
            "amount": str(Decimal(refund.amount).quantize(CENTS)),
            "arrival_working_days": self.settings.refund.arrival_working_days.get(refund.method),
        }
        if refund.status in REFUND_PAID_STATUSES:
            return self._completed_refund(refund, facts)
        if refund.status in REFUND_REJECTED_STATUSES:
            facts.update(due_by=None, expected_arrival=None)
            return Decision(REFUND_DEADLINE, REFUND_NONE, None, facts)
        if refund.status not in REFUND_OWED_STATUSES:
            raise ValueError(f"refund {refund.refund_id}: unknown status {refund.status!r}")
        return self._owed_refund(refund, facts, now=now, service_goods=service_goods)

    def _completed_refund(self, refund: RefundLike, facts: dict[str, Any]) -> Decision:
        completed_at = refund.completed_at
        facts.update(
            completed_at=_iso(completed_at, self.timezone),
            due_by=None,
            expected_arrival=_iso(
                self._expected_arrival(refund.method, completed_at), self.timezone
            ),
        )
        return Decision(REFUND_DEADLINE, REFUND_COMPLETED, None, facts)

    def _owed_refund(
        self, refund: RefundLike, facts: dict[str, Any], *, now: datetime, service_goods: bool
    ) -> Decision:
        settings = self.settings.refund
        with_return = refund.return_id is not None or refund.goods_received_at is not None
        if with_return:
            counted_from, trigger = "goods_received", refund.goods_received_at
            working_days = settings.with_return_working_days
        elif service_goods:
            counted_from, trigger = "agreed", refund.agreed_at
            working_days = settings.service_goods_working_days
        else:
            counted_from, trigger = "agreed", refund.agreed_at
            working_days = settings.without_return_working_days
        facts.update(counted_from=counted_from, working_days=working_days)
        if trigger is None:
            # The clock has not started: the goods are on their way back, or (a data
            # gap) no agreement time is known. Nothing can be late yet.
            facts.update(due_by=None, expected_arrival=None, waiting_for=counted_from)
            return Decision(REFUND_DEADLINE, REFUND_ON_TIME, None, facts)
        trigger_day = self._local_date(trigger, f"refund.{counted_from}_at")
        due_by = self._end_of_day(self.calendar.add_working_days(trigger_day, working_days))
        facts.update(
            due_by=due_by.isoformat(),
            expected_arrival=_iso(self._expected_arrival(refund.method, due_by), self.timezone),
        )
        outcome = REFUND_OVERDUE if now > due_by else REFUND_ON_TIME
        return Decision(REFUND_DEADLINE, outcome, None, facts)

    def _expected_arrival(self, method: str, paid_out_at: datetime | None) -> datetime | None:
        """Latest time the money reaches the shopper once paid out by ``paid_out_at``."""
        working_days = self.settings.refund.arrival_working_days.get(method)
        if paid_out_at is None or working_days is None:
            return None
        if working_days == 0:
            return paid_out_at
        paid_out_day = self._local_date(paid_out_at, "refund payout time")
        return self._end_of_day(self.calendar.add_working_days(paid_out_day, working_days))

    # ---- complaints, authority, service hours, handoff ---------------------------------

    def complaint_deadline(self, created_at: datetime) -> Decision:
        """Deadlines of a new complaint (000 §8.4, §8.6; 004 §7.2).

        Args:
            created_at: When the complaint was taken (timezone-aware).

        Returns:
            Outcome ``created`` (the complaint record's outcome) with facts created_at,
            due_at (feedback with a resolution plan), investigate_by and resolve_by.
        """
        _require_aware(created_at, "created_at")
        settings = self.settings.complaint
        created = created_at.astimezone(self.timezone)
        facts = {
            "created_at": created.isoformat(),
            "due_at": (created + timedelta(hours=settings.feedback_hours)).isoformat(),
            "investigate_by": (
                created + timedelta(hours=settings.first_investigation_hours)
            ).isoformat(),
            "resolve_by": (created + timedelta(hours=settings.resolution_hours)).isoformat(),
        }
        return Decision(COMPLAINT_24H, COMPLAINT_CREATED, None, facts)

    def authority(self, *, kind: AuthorityKind, amount: Decimal | None) -> Decision:
        """Tells whether the bot may grant ``amount`` alone or must hand over.

        Args:
            kind: ``refund`` or ``compensation``.
            amount: The amount asked for; None when the shopper named none, which is
                beyond authority because it cannot be checked against the limit.

        Returns:
            ``within_authority`` when ``amount`` is at most the limit, otherwise
            ``beyond_authority``; facts hold kind, amount and limit as strings.

        Raises:
            ValueError: On an unknown kind or a negative amount.
        """
        limits = {
            "refund": self.settings.authority.max_refund_amount,
            "compensation": self.settings.authority.max_compensation_amount,
        }
        if kind not in limits:
            raise ValueError(
                f"authority kind must be one of {', '.join(AUTHORITY_KINDS)}: {kind!r}"
            )
        limit = limits[kind]
        if amount is not None and amount < 0:
            raise ValueError(f"authority amount must not be negative: {amount}")
        facts = {
            "kind": kind,
            "amount": None if amount is None else str(Decimal(amount).quantize(CENTS)),
            "limit": str(limit.quantize(CENTS)),
        }
        within = amount is not None and amount <= limit
        return Decision(
            AUTHORITY_LIMIT, WITHIN_AUTHORITY if within else BEYOND_AUTHORITY, None, facts
        )

    def service_hours(self, now: datetime) -> Decision:
        """Tells whether human service is open at ``now``, and when it opens next.

        Args:
            now: The current time (timezone-aware).

        Returns:
            ``open`` with facts closes_at, or ``closed`` with facts next_open_at and
            outside_hours (what the bot offers meanwhile: ``callback``).
        """
        _require_aware(now, "now")
        hours = self.settings.service_hours
        local = now.astimezone(self.timezone)
        facts: dict[str, Any] = {
            "open_at": hours.open_at.strftime("%H:%M"),
            "close_at": hours.close_at.strftime("%H:%M"),
        }
        if hours.open_at <= local.time() < hours.close_at:
            facts["closes_at"] = self._at(local.date(), hours.close_at).isoformat()
            return Decision(SERVICE_HOURS, SERVICE_OPEN, None, facts)
        next_open_day = (
            local.date() if local.time() < hours.open_at else local.date() + timedelta(days=1)
        )
        facts["next_open_at"] = self._at(next_open_day, hours.open_at).isoformat()
        facts["outside_hours"] = hours.outside_hours
        return Decision(SERVICE_HOURS, SERVICE_CLOSED, None, facts)

    def handoff_priority(self, reason: HandoffReason) -> int:
        """Queue priority of a handoff to a person; 1 is the most urgent.

        Args:
            reason: A record-contract handoff reason, e.g. ``overdue_refund``.

        Raises:
            ValueError: On a reason outside the record contract.
        """
        try:
            return self.settings.handoff_priorities[reason]
        except KeyError:
            raise ValueError(
                f"handoff reason must be one of {', '.join(HANDOFF_REASONS)}: {reason!r}"
            ) from None

    def handoff_response_minutes(self, priority: int) -> int:
        """Minutes within which a person takes up a handoff of `priority` (HANDOFF-PRIORITY)."""
        return self.settings.handoff_response_minutes.get(
            priority, self.settings.handoff_other_response_minutes
        )

    # ---- time helpers ----------------------------------------------------------------

    def _local_date(self, moment: datetime, what: str) -> date:
        _require_aware(moment, what)
        return moment.astimezone(self.timezone).date()

    def _at(self, day: date, clock: time) -> datetime:
        return datetime.combine(day, clock, tzinfo=self.timezone)

    def _end_of_day(self, day: date) -> datetime:
        return self._at(day, END_OF_DAY)


def _not_delivered(order: OrderLike, base: dict[str, Any]) -> Decision:
    # Before signing, the shopper refuses delivery (拒收) or cancels instead of returning.
    options = {
        "shipped": ["refuse_delivery"],
        "created": ["cancel_order"],
        "paid": ["cancel_order"],
    }
    facts = {**base, "order_status": order.status, "options": options.get(order.status, [])}
    return Decision(RET_NOT_DELIVERED, NOT_ELIGIBLE, NOT_DELIVERED, facts)


def _require_aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware: {moment.isoformat()}")


def _iso(moment: datetime | None, timezone: ZoneInfo) -> str | None:
    return None if moment is None else moment.astimezone(timezone).isoformat()
