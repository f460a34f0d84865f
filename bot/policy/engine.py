"""After-sales policy engine: loads, validates and evaluates ``aftersales_policy.yml``.

The merchant-editable YAML file holds every number of the after-sales rules (window
lengths, deadlines, limits, hours); this module holds the logic that applies them. Each
evaluation returns a :class:`Decision` naming the id of the rule that decided, so the bot
can write it as a service record before it replies.

The module is pure: it reads nothing but the policy file (in :func:`load_policy`), never
reads the clock (``now`` is always passed in) and talks to no network. Business dates
(the day goods were signed for, working days) are dates in the policy's time zone
(Asia/Shanghai).
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar
import yaml

logger = logging.getLogger(__name__)

POLICY_FILE_NAME = "aftersales_policy.yml"
POLICY_VERSION = 1

# Rule ids. Decisions cite them and service records store them: never rename one.
RET_7D_WINDOW = "RET-7D-WINDOW"
RET_NOT_DELIVERED = "RET-NOT-DELIVERED"
RET_EXCL_CUSTOMIZED = "RET-EXCL-CUSTOMIZED"
RET_EXCL_PERISHABLE = "RET-EXCL-PERISHABLE"
RET_EXCL_DIGITAL = "RET-EXCL-DIGITAL"
RET_EXCL_PERIODICAL = "RET-EXCL-PERIODICAL"
RET_EXCL_CONFIRMED = "RET-EXCL-CONFIRMED"
RET_INTACT = "RET-INTACT"
QUALITY_RETURN = "QUALITY-RETURN"
EXCHANGE_NON_QUALITY = "EXCHANGE-NON-QUALITY"
SHIPPING_PAYER = "SHIPPING-PAYER"
REFUND_DEADLINE = "REFUND-DEADLINE"
COMPLAINT_24H = "COMPLAINT-24H"
AUTHORITY_LIMIT = "AUTHORITY-LIMIT"
SERVICE_HOURS = "SERVICE-HOURS"
IDENTITY_VERIFY = "IDENTITY-VERIFY"
HANDOFF_PRIORITY = "HANDOFF-PRIORITY"
# 004 §3.1: urgent matters (account security, payment anomalies) start within 5 minutes.
URGENT_HANDOFF_MAX_MINUTES = 5

# Exclusion rules in the order they are checked, with the order-system item flag each
# one matches. The flag doubles as the record-contract reason code.
EXCLUSION_RULE_FLAGS: Mapping[str, str] = {
    RET_EXCL_CUSTOMIZED: "customized",
    RET_EXCL_PERISHABLE: "perishable",
    RET_EXCL_DIGITAL: "digital_download",
    RET_EXCL_PERIODICAL: "periodical",
    RET_EXCL_CONFIRMED: "confirmed_non_returnable",
}
ITEM_FLAGS = frozenset(EXCLUSION_RULE_FLAGS.values())

# Record-contract vocabulary (../shared/acceptance/README.md).
ELIGIBLE = "eligible"
NOT_ELIGIBLE = "not_eligible"
NEEDS_INFO = "needs_info"
REFUND_COMPLETED = "completed"
REFUND_ON_TIME = "on_time"
REFUND_OVERDUE = "overdue"
REFUND_NONE = "none"
COMPLAINT_CREATED = "created"
WITHIN_AUTHORITY = "within_authority"
BEYOND_AUTHORITY = "beyond_authority"
SERVICE_OPEN = "open"
SERVICE_CLOSED = "closed"
HANDOFF_REASONS = (
    "urgent",
    "beyond_authority",
    "overdue_refund",
    "repeated_failure",
    "system_error",
    "user_request",
    "other",
)
AUTHORITY_KINDS = ("refund", "compensation")
OUTSIDE_HOURS_ACTIONS = ("callback",)

# Order-system statuses (order_system/openapi.yaml).
DELIVERED_ORDER_STATUSES = frozenset({"delivered", "closed"})
REFUND_PAID_STATUSES = frozenset({"succeeded", "completed"})
REFUND_OWED_STATUSES = frozenset({"processing", "failed"})
REFUND_REJECTED_STATUSES = frozenset({"rejected"})

# Ceilings and floors set by the standards: the file may be stricter, never looser.
STANDARD_MAX_COMPLAINT_FEEDBACK_HOURS = 24  # 000 §8.4, §8.6; 002 §7.5.1.2
STANDARD_MAX_REFUND_WORKING_DAYS = 1  # 000 §7.8; 002 §7.5.2.4
STANDARD_MIN_SERVICE_HOURS_PER_DAY = 8  # 002 §4.2 (7 days x 8 hours)
LEGAL_RETURN_WINDOW_DAYS = 7  # Consumer Rights Protection Law art. 25; 000 §7.2

END_OF_DAY = time(23, 59, 59)
CENTS = Decimal("0.01")


class PolicyError(ValueError):
    """The policy file cannot be read or breaks a rule; the message names the field."""


@dataclass(frozen=True)
class Decision:
    """One evaluated policy question, ready to be written as a service record.

    Attributes:
        rule: Id of the rule that decided, e.g. ``RET-7D-WINDOW``.
        outcome: Record-contract outcome, e.g. ``eligible`` or ``overdue``.
        reason: Record-contract reason code, or None.
        facts: JSON-serialisable facts the decision used (dates as ISO strings, money as
            strings).
    """

    rule: str
    outcome: str
    reason: str | None
    facts: Mapping[str, Any]

    def to_record_details(self) -> dict[str, Any]:
        """Returns the facts plus the reason code, as a service record's ``details``."""
        details = copy.deepcopy(dict(self.facts))
        if self.reason is not None:
            details["reason"] = self.reason
        return details


class ItemLike(Protocol):
    """An order line as the order client returns it."""

    @property
    def sku(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def category(self) -> str: ...

    @property
    def flags(self) -> AbstractSet[str]: ...


class OrderLike(Protocol):
    """An order as the order client returns it."""

    @property
    def order_id(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def delivered_at(self) -> datetime | None: ...

    @property
    def return_shipping_insurance(self) -> bool: ...


class RefundLike(Protocol):
    """A refund as the order client returns it."""

    @property
    def refund_id(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def method(self) -> str: ...

    @property
    def amount(self) -> Decimal: ...

    @property
    def agreed_at(self) -> datetime | None: ...

    @property
    def goods_received_at(self) -> datetime | None: ...

    @property
    def completed_at(self) -> datetime | None: ...

    @property
    def return_id(self) -> str | None: ...


# --------------------------------------------------------------------------------------
# Settings read from the file
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleInfo:
    """What the file says about a rule for people: its title and the source it rests on."""

    id: str
    title: str
    source: str


@dataclass(frozen=True)
class QualitySettings:
    """QUALITY-RETURN: days after signing for a return, then for exchange or repair."""

    return_days: int
    exchange_or_repair_days: int


@dataclass(frozen=True)
class ShippingSettings:
    """SHIPPING-PAYER: when the merchant, not the consumer, pays return shipping."""

    merchant_pays_when_insured: bool
    free_return_promise: bool


@dataclass(frozen=True)
class RefundSettings:
    """REFUND-DEADLINE: working days to process a refund, and arrival time by method."""

    without_return_working_days: int
    with_return_working_days: int
    service_goods_working_days: int
    arrival_working_days: Mapping[str, int]


@dataclass(frozen=True)
class ComplaintSettings:
    """COMPLAINT-24H: hours after a complaint for feedback, investigation, resolution."""

    feedback_hours: int
    first_investigation_hours: int
    resolution_hours: int


@dataclass(frozen=True)
class AuthoritySettings:
    """AUTHORITY-LIMIT: largest amounts the bot may grant without a person."""

    max_refund_amount: Decimal
    max_compensation_amount: Decimal


@dataclass(frozen=True)
class ServiceHoursSettings:
    """SERVICE-HOURS: daily opening hours of human service and what happens outside."""

    open_at: time
    close_at: time
    outside_hours: str


@dataclass(frozen=True)
class PolicySettings:
    """Every number of the policy file, validated."""

    return_window_days: int
    exclusions_enforced: Mapping[str, bool]
    intact_required: bool
    quality: QualitySettings
    exchange_window_days: int
    shipping: ShippingSettings
    refund: RefundSettings
    complaint: ComplaintSettings
    authority: AuthoritySettings
    service_hours: ServiceHoursSettings
    max_identity_attempts: int
    handoff_priorities: Mapping[str, int]
    handoff_response_minutes: Mapping[int, int]
    handoff_other_response_minutes: int


# --------------------------------------------------------------------------------------
# Working-day calendar
# --------------------------------------------------------------------------------------


class WorkingDayCalendar:
    """PRC working days: statutory holidays and make-up working days (调休) included.

    Uses ``chinese_calendar``. For a year it has no data for, falls back to Monday to
    Friday, minus the policy's ``extra_holidays``, plus its ``extra_working_days``, and
    logs one warning per year so that operators know to update the package or the file.
    """

    def __init__(
        self,
        *,
        extra_holidays: Iterable[date] = (),
        extra_working_days: Iterable[date] = (),
    ) -> None:
        """Creates the calendar.

        Args:
            extra_holidays: Days off used only for years chinese_calendar does not know.
            extra_working_days: Weekend days worked (调休), same condition.
        """
        self._extra_holidays = frozenset(extra_holidays)
        self._extra_working_days = frozenset(extra_working_days)
        self._warned_years: set[int] = set()
        # Actions run in worker threads; the lock keeps the warning to one per year.
        self._warned_lock = threading.Lock()

    def is_working_day(self, day: date) -> bool:
        """Tells whether ``day`` is a PRC working day.

        Args:
            day: A calendar date (not a datetime: convert to the business time zone first).

        Returns:
            True on a working day, False on a weekend day off or a holiday.
        """
        _require_plain_date(day)
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            self._warn_fallback_once(day.year)
            return self._fallback_is_working_day(day)

    def add_working_days(self, day: date, count: int) -> date:
        """Moves ``count`` working days from ``day``; ``day`` itself is not counted.

        Args:
            day: The starting date.
            count: Working days to move: positive is later, negative is earlier
                (-4 is "four working days ago"), 0 returns ``day`` unchanged.

        Returns:
            The ``abs(count)``-th working day after (or before) ``day``.
        """
        _require_plain_date(day)
        step = timedelta(days=1 if count > 0 else -1)
        remaining = abs(count)
        current = day
        while remaining:
            current += step
            if self.is_working_day(current):
                remaining -= 1
        return current

    def _fallback_is_working_day(self, day: date) -> bool:
        if day in self._extra_working_days:
            return True
        if day in self._extra_holidays:
            return False
        return day.weekday() < 5

    def _warn_fallback_once(self, year: int) -> None:
        with self._warned_lock:
            if year in self._warned_years:
                return
            self._warned_years.add(year)
        holidays = sum(1 for day in self._extra_holidays if day.year == year)
        working_days = sum(1 for day in self._extra_working_days if day.year == year)
        logger.warning(
            "chinese_calendar has no official working-day data for %d; using Monday to "
            "Friday with the policy's %d extra_holidays and %d extra_working_days for "
            "that year. Update chinese_calendar or the policy's working_day_calendar.",
            year,
            holidays,
            working_days,
        )


def _require_plain_date(day: date) -> None:
    if isinstance(day, datetime) or not isinstance(day, date):
        raise TypeError(f"expected a date, got {type(day).__name__}: {day!r}")


# --------------------------------------------------------------------------------------
# Policy
# --------------------------------------------------------------------------------------


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
        window_rule: str,
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
            return Decision(window_rule, NOT_ELIGIBLE, "window_expired", facts)
        if self.settings.intact_required:
            if intact is None:
                return Decision(RET_INTACT, NEEDS_INFO, None, {**facts, "missing": ["intact"]})
            if not intact:
                return Decision(RET_INTACT, NOT_ELIGIBLE, "not_intact", facts)
        return Decision(
            window_rule, ELIGIBLE, "within_window", {**facts, **self._return_shipping(order)}
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
            return Decision(QUALITY_RETURN, NOT_ELIGIBLE, "window_expired", facts)
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
        return Decision(QUALITY_RETURN, ELIGIBLE, "quality_issue", facts)

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

    def authority(self, *, kind: str, amount: Decimal | None) -> Decision:
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

    def handoff_priority(self, reason: str) -> int:
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
    return Decision(RET_NOT_DELIVERED, NOT_ELIGIBLE, "not_delivered", facts)


def _require_aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware: {moment.isoformat()}")


def _iso(moment: datetime | None, timezone: ZoneInfo) -> str | None:
    return None if moment is None else moment.astimezone(timezone).isoformat()


# --------------------------------------------------------------------------------------
# Loading and validation
# --------------------------------------------------------------------------------------


def default_policy_path() -> Path:
    """Path of the shipped policy file, beside this module."""
    return Path(__file__).with_name(POLICY_FILE_NAME)


def load_policy(path: str | Path | None = None) -> Policy:
    """Reads and validates a policy file.

    Args:
        path: The YAML file; the shipped ``aftersales_policy.yml`` when None.

    Returns:
        The validated policy.

    Raises:
        PolicyError: The file cannot be read, is not YAML, or breaks a rule; the
            message names the field and says why.
    """
    policy_path = Path(path) if path is not None else default_policy_path()
    try:
        text = policy_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyError(f"{policy_path}: cannot read the policy file: {error}") from error
    return _policy_from_document(_parse_yaml(text, policy_path.name))


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that rejects a key written twice (PyYAML silently keeps the last)."""


def _construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Any:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {key!r} is written twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def _parse_yaml(text: str, file_name: str) -> Any:
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise PolicyError(f"{file_name}: not valid YAML{where}: {error.problem}") from error
    except yaml.YAMLError as error:
        raise PolicyError(f"{file_name}: not valid YAML: {error}") from error


class _Fields:
    """Typed reads from one mapping of the policy file; errors name the field."""

    def __init__(self, data: Any, path: str, allowed: Iterable[str]) -> None:
        if not isinstance(data, Mapping):
            raise PolicyError(f"{path}: must be a mapping of settings, got {_describe(data)}")
        allowed_names = set(allowed)
        for name in data:
            if name not in allowed_names:
                known = ", ".join(sorted(allowed_names))
                raise PolicyError(f"{path}: unknown setting {name!r} (known: {known})")
        self.data = data
        self.path = path

    def field_path(self, name: str) -> str:
        return f"{self.path}.{name}"

    def raw(self, name: str) -> Any:
        if name not in self.data or self.data[name] is None:
            raise PolicyError(f"{self.field_path(name)}: missing")
        return self.data[name]

    def text(self, name: str) -> str:
        value = self.raw(name)
        if not isinstance(value, str) or not value.strip():
            raise PolicyError(
                f"{self.field_path(name)}: must be non-empty text, got {_describe(value)}"
            )
        return value.strip()

    def boolean(self, name: str) -> bool:
        value = self.raw(name)
        if not isinstance(value, bool):
            raise PolicyError(
                f"{self.field_path(name)}: must be true or false, got {_describe(value)}"
            )
        return value

    def integer(self, name: str, *, minimum: int) -> int:
        return _integer(self.raw(name), self.field_path(name), minimum=minimum)

    def choice(self, name: str, choices: Iterable[str]) -> str:
        value = self.raw(name)
        options = tuple(choices)
        if value not in options:
            raise PolicyError(
                f"{self.field_path(name)}: {value!r} is not one of {', '.join(options)}"
            )
        return str(value)

    def money(self, name: str) -> Decimal:
        value = self.raw(name)
        path = self.field_path(name)
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise PolicyError(
                f"{path}: must be an amount in yuan like 500.00, got {_describe(value)}"
            )
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            raise PolicyError(f"{path}: {value!r} is not an amount in yuan like 500.00") from None
        if not amount.is_finite() or amount < 0:
            raise PolicyError(f"{path}: {value} must be an amount of 0 or more")
        if amount != amount.quantize(CENTS):
            raise PolicyError(f"{path}: {value} has more than two decimals (fen)")
        return amount.quantize(CENTS)

    def clock_time(self, name: str) -> time:
        value = self.raw(name)
        path = self.field_path(name)
        try:
            hours, minutes = str(value).split(":")
            return time(int(hours), int(minutes))
        except ValueError:
            raise PolicyError(f'{path}: {value!r} is not a time like "09:00" (quote it)') from None


def _integer(value: Any, path: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PolicyError(f"{path}: must be a whole number, got {_describe(value)}")
    if value < minimum:
        raise PolicyError(f"{path}: {value} must be {minimum} or more")
    return value


def _describe(value: Any) -> str:
    kinds = {
        dict: "a mapping",
        list: "a list",
        str: "text",
        bool: "true/false",
        type(None): "nothing",
    }
    kind = next(
        (label for cls, label in kinds.items() if isinstance(value, cls)), type(value).__name__
    )
    return f"{kind} ({value!r})" if isinstance(value, (str, int, float, date)) else kind


_COMMON_RULE_FIELDS = ("id", "title", "source")


def _policy_from_document(document: Any) -> Policy:
    top = _Fields(document, "policy file", ("version", "timezone", "rules", "working_day_calendar"))
    version = top.raw("version")
    if version != POLICY_VERSION:
        raise PolicyError(
            f"version: {version!r} is not supported (this engine reads version {POLICY_VERSION})"
        )
    timezone = _timezone(top.text("timezone"))
    entries = _rule_entries(top.raw("rules"))
    rules = {rule_id: _rule_info(fields) for rule_id, fields in entries.items()}
    settings = _settings(entries)
    calendar = _calendar(top.raw("working_day_calendar"))
    return Policy(timezone=timezone, calendar=calendar, rules=rules, settings=settings)


def _timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PolicyError(
            f"timezone: {name!r} is not a known time zone (use Asia/Shanghai)"
        ) from None


# Extra settings each rule may hold besides id, title and source.
_RULE_SETTINGS: Mapping[str, tuple[str, ...]] = {
    RET_NOT_DELIVERED: (),
    RET_7D_WINDOW: ("window_days",),
    **{rule_id: ("item_flag", "enforced") for rule_id in EXCLUSION_RULE_FLAGS},
    RET_INTACT: ("required",),
    QUALITY_RETURN: ("return_days", "exchange_or_repair_days"),
    EXCHANGE_NON_QUALITY: ("window_days",),
    SHIPPING_PAYER: ("merchant_pays_when_insured", "free_return_promise"),
    REFUND_DEADLINE: (
        "without_return_working_days",
        "with_return_working_days",
        "service_goods_working_days",
        "arrival_working_days",
    ),
    COMPLAINT_24H: ("feedback_hours", "first_investigation_hours", "resolution_hours"),
    AUTHORITY_LIMIT: ("max_refund_amount", "max_compensation_amount"),
    SERVICE_HOURS: ("open_at", "close_at", "outside_hours"),
    IDENTITY_VERIFY: ("max_failed_attempts",),
    HANDOFF_PRIORITY: ("priorities", "response_minutes", "other_response_minutes"),
}


def _rule_entries(raw_rules: Any) -> dict[str, _Fields]:
    if not isinstance(raw_rules, list):
        raise PolicyError(f"rules: must be a list of rules, got {_describe(raw_rules)}")
    entries: dict[str, _Fields] = {}
    for position, entry in enumerate(raw_rules, start=1):
        where = f"rules[{position}]"
        if not isinstance(entry, Mapping):
            raise PolicyError(f"{where}: must be a mapping with an id, got {_describe(entry)}")
        rule_id = entry.get("id")
        if not isinstance(rule_id, str) or not rule_id:
            raise PolicyError(f"{where}: missing 'id' (every rule needs the id decisions cite)")
        if rule_id in entries:
            raise PolicyError(f"{where}: duplicate rule id {rule_id} (each id may appear once)")
        if rule_id not in _RULE_SETTINGS:
            raise PolicyError(
                f"{where}: unknown rule id {rule_id!r} "
                f"(the engine knows {', '.join(_RULE_SETTINGS)})"
            )
        entries[rule_id] = _Fields(entry, rule_id, _COMMON_RULE_FIELDS + _RULE_SETTINGS[rule_id])
    missing = [rule_id for rule_id in _RULE_SETTINGS if rule_id not in entries]
    if missing:
        raise PolicyError(f"rules: missing {', '.join(missing)} (decisions cite every rule)")
    return entries


def _rule_info(fields: _Fields) -> RuleInfo:
    return RuleInfo(id=fields.text("id"), title=fields.text("title"), source=fields.text("source"))


def _settings(entries: Mapping[str, _Fields]) -> PolicySettings:
    priorities = _handoff_priorities(entries[HANDOFF_PRIORITY])
    return PolicySettings(
        return_window_days=_return_window_days(entries[RET_7D_WINDOW]),
        exclusions_enforced={
            rule_id: _exclusion_enforced(entries[rule_id], flag)
            for rule_id, flag in EXCLUSION_RULE_FLAGS.items()
        },
        intact_required=entries[RET_INTACT].boolean("required"),
        quality=_quality(entries[QUALITY_RETURN]),
        exchange_window_days=entries[EXCHANGE_NON_QUALITY].integer("window_days", minimum=0),
        shipping=ShippingSettings(
            merchant_pays_when_insured=entries[SHIPPING_PAYER].boolean(
                "merchant_pays_when_insured"
            ),
            free_return_promise=entries[SHIPPING_PAYER].boolean("free_return_promise"),
        ),
        refund=_refund(entries[REFUND_DEADLINE]),
        complaint=_complaint(entries[COMPLAINT_24H]),
        authority=AuthoritySettings(
            max_refund_amount=entries[AUTHORITY_LIMIT].money("max_refund_amount"),
            max_compensation_amount=entries[AUTHORITY_LIMIT].money("max_compensation_amount"),
        ),
        service_hours=_service_hours(entries[SERVICE_HOURS]),
        max_identity_attempts=entries[IDENTITY_VERIFY].integer("max_failed_attempts", minimum=1),
        handoff_priorities=priorities,
        handoff_response_minutes=_handoff_response_minutes(entries[HANDOFF_PRIORITY], priorities),
        handoff_other_response_minutes=entries[HANDOFF_PRIORITY].integer(
            "other_response_minutes", minimum=1
        ),
    )


def _return_window_days(fields: _Fields) -> int:
    days = fields.integer("window_days", minimum=0)
    if days < LEGAL_RETURN_WINDOW_DAYS:
        raise PolicyError(
            f"{fields.field_path('window_days')}: {days} is less than the "
            f"{LEGAL_RETURN_WINDOW_DAYS} days the law gives the consumer"
        )
    return days


def _exclusion_enforced(fields: _Fields, expected_flag: str) -> bool:
    flag = fields.raw("item_flag")
    path = fields.field_path("item_flag")
    if flag not in ITEM_FLAGS:
        raise PolicyError(
            f"{path}: {flag!r} is not a known item flag (known: {', '.join(sorted(ITEM_FLAGS))})"
        )
    if flag != expected_flag:
        raise PolicyError(f"{path}: must be {expected_flag!r} for {fields.path}, got {flag!r}")
    return fields.boolean("enforced")


def _quality(fields: _Fields) -> QualitySettings:
    return_days = fields.integer("return_days", minimum=0)
    if return_days < LEGAL_RETURN_WINDOW_DAYS:
        raise PolicyError(
            f"{fields.field_path('return_days')}: {return_days} is less than the "
            f"{LEGAL_RETURN_WINDOW_DAYS} days the law gives for quality returns"
        )
    exchange_days = fields.integer("exchange_or_repair_days", minimum=0)
    if exchange_days < return_days:
        raise PolicyError(
            f"{fields.field_path('exchange_or_repair_days')}: {exchange_days} is less than "
            f"return_days ({return_days})"
        )
    return QualitySettings(return_days=return_days, exchange_or_repair_days=exchange_days)


def _refund(fields: _Fields) -> RefundSettings:
    def deadline(name: str) -> int:
        days = fields.integer(name, minimum=0)
        if days > STANDARD_MAX_REFUND_WORKING_DAYS:
            raise PolicyError(
                f"{fields.field_path(name)}: {days} is more than the "
                f"{STANDARD_MAX_REFUND_WORKING_DAYS} working day the standard allows"
            )
        return days

    arrival_path = fields.field_path("arrival_working_days")
    arrival = fields.raw("arrival_working_days")
    if not isinstance(arrival, Mapping) or not arrival:
        raise PolicyError(
            f"{arrival_path}: must map payment methods to working days, got {_describe(arrival)}"
        )
    return RefundSettings(
        without_return_working_days=deadline("without_return_working_days"),
        with_return_working_days=deadline("with_return_working_days"),
        service_goods_working_days=deadline("service_goods_working_days"),
        arrival_working_days={
            str(method): _integer(days, f"{arrival_path}.{method}", minimum=0)
            for method, days in arrival.items()
        },
    )


def _complaint(fields: _Fields) -> ComplaintSettings:
    feedback = fields.integer("feedback_hours", minimum=1)
    if feedback > STANDARD_MAX_COMPLAINT_FEEDBACK_HOURS:
        raise PolicyError(
            f"{fields.field_path('feedback_hours')}: {feedback} is more than the "
            f"{STANDARD_MAX_COMPLAINT_FEEDBACK_HOURS} hours the standard allows"
        )
    investigation = fields.integer("first_investigation_hours", minimum=feedback)
    resolution = fields.integer("resolution_hours", minimum=investigation)
    return ComplaintSettings(feedback, investigation, resolution)


def _service_hours(fields: _Fields) -> ServiceHoursSettings:
    open_at = fields.clock_time("open_at")
    close_at = fields.clock_time("close_at")
    minutes_open = (close_at.hour * 60 + close_at.minute) - (open_at.hour * 60 + open_at.minute)
    if minutes_open < STANDARD_MIN_SERVICE_HOURS_PER_DAY * 60:
        raise PolicyError(
            f"{fields.path}: {open_at:%H:%M}-{close_at:%H:%M} is less than the "
            f"{STANDARD_MIN_SERVICE_HOURS_PER_DAY} hours a day the standard requires (002 §4.2)"
        )
    return ServiceHoursSettings(
        open_at=open_at,
        close_at=close_at,
        outside_hours=fields.choice("outside_hours", OUTSIDE_HOURS_ACTIONS),
    )


def _handoff_priorities(fields: _Fields) -> dict[str, int]:
    path = fields.field_path("priorities")
    raw = fields.raw("priorities")
    priorities_fields = _Fields(raw, path, HANDOFF_REASONS)
    priorities = {
        reason: priorities_fields.integer(reason, minimum=1) for reason in HANDOFF_REASONS
    }
    most_urgent = min(priorities.values())
    others_as_urgent = [r for r, p in priorities.items() if p == most_urgent and r != "urgent"]
    if priorities["urgent"] != most_urgent or others_as_urgent:
        raise PolicyError(
            f"{path}.urgent: must come strictly first (004 §3.1: urgent matters first)"
        )
    return priorities


def _handoff_response_minutes(fields: _Fields, priorities: Mapping[str, int]) -> dict[int, int]:
    path = fields.field_path("response_minutes")
    raw = fields.raw("response_minutes")
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{path}: must be a mapping of priority to minutes, got {_describe(raw)}")
    minutes: dict[int, int] = {}
    for level, value in raw.items():
        if not isinstance(level, int) or isinstance(level, bool) or level < 1:
            raise PolicyError(f"{path}: {level!r} is not a priority (a whole number, 1 or more)")
        minutes[level] = _integer(value, f"{path}.{level}", minimum=1)
    urgent = priorities["urgent"]
    if minutes.get(urgent, URGENT_HANDOFF_MAX_MINUTES + 1) > URGENT_HANDOFF_MAX_MINUTES:
        raise PolicyError(
            f"{path}.{urgent}: urgent matters must start within {URGENT_HANDOFF_MAX_MINUTES} "
            "minutes (004 §3.1)"
        )
    return minutes


def _calendar(raw: Any) -> WorkingDayCalendar:
    fields = _Fields(raw, "working_day_calendar", ("extra_holidays", "extra_working_days"))
    holidays = _dates_by_year(fields, "extra_holidays")
    working_days = _dates_by_year(fields, "extra_working_days")
    both = sorted(holidays & working_days)
    if both:
        raise PolicyError(
            f"working_day_calendar: {both[0].isoformat()} is both an extra holiday and an "
            "extra working day"
        )
    return WorkingDayCalendar(extra_holidays=holidays, extra_working_days=working_days)


def _dates_by_year(fields: _Fields, name: str) -> frozenset[date]:
    path = fields.field_path(name)
    by_year = fields.data.get(name) or {}
    if not isinstance(by_year, Mapping):
        raise PolicyError(f"{path}: must map years to lists of dates, got {_describe(by_year)}")
    days: set[date] = set()
    for year, listed in by_year.items():
        year_path = f"{path}.{year}"
        _integer(year, year_path, minimum=1)
        if not isinstance(listed, list):
            raise PolicyError(f"{year_path}: must be a list of dates, got {_describe(listed)}")
        for value in listed:
            day = _date(value, year_path)
            if day.year != year:
                raise PolicyError(f"{year_path}: {day.isoformat()} is not in {year}")
            days.add(day)
    return frozenset(days)


def _date(value: Any, path: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise PolicyError(f"{path}: {value!r} is not a date like 2027-01-01") from None
