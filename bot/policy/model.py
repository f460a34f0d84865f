"""The after-sales policy's rule model: rule ids, vocabulary, limits, decisions, settings.

The merchant-editable ``aftersales_policy.yml`` holds every number of the after-sales
rules; :mod:`bot.policy.loader` reads it into the settings defined here and
:mod:`bot.policy.evaluation` applies them. Each evaluation returns a :class:`Decision`
naming the id of the rule that decided, so the bot can write it as a service record
before it replies.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from typing import Any, Final, Literal, NewType, Protocol, get_args

# Rule ids, each written once here. Decisions cite them and service records store them:
# never rename one. A `RuleId` is only made here, so a signature typed `RuleId` takes
# these constants and mypy refuses a rule id written out anywhere else.
RuleId = NewType("RuleId", str)
RET_7D_WINDOW = RuleId("RET-7D-WINDOW")
RET_NOT_DELIVERED = RuleId("RET-NOT-DELIVERED")
RET_EXCL_CUSTOMIZED = RuleId("RET-EXCL-CUSTOMIZED")
RET_EXCL_PERISHABLE = RuleId("RET-EXCL-PERISHABLE")
RET_EXCL_DIGITAL = RuleId("RET-EXCL-DIGITAL")
RET_EXCL_PERIODICAL = RuleId("RET-EXCL-PERIODICAL")
RET_EXCL_CONFIRMED = RuleId("RET-EXCL-CONFIRMED")
RET_INTACT = RuleId("RET-INTACT")
QUALITY_RETURN = RuleId("QUALITY-RETURN")
EXCHANGE_NON_QUALITY = RuleId("EXCHANGE-NON-QUALITY")
SHIPPING_PAYER = RuleId("SHIPPING-PAYER")
REFUND_DEADLINE = RuleId("REFUND-DEADLINE")
COMPLAINT_24H = RuleId("COMPLAINT-24H")
AUTHORITY_LIMIT = RuleId("AUTHORITY-LIMIT")
SERVICE_HOURS = RuleId("SERVICE-HOURS")
IDENTITY_VERIFY = RuleId("IDENTITY-VERIFY")
HANDOFF_PRIORITY = RuleId("HANDOFF-PRIORITY")
# Every rule the engine knows: the policy file must hold exactly these (tests check it).
RULE_IDS: frozenset[RuleId] = frozenset(
    {
        RET_7D_WINDOW,
        RET_NOT_DELIVERED,
        RET_EXCL_CUSTOMIZED,
        RET_EXCL_PERISHABLE,
        RET_EXCL_DIGITAL,
        RET_EXCL_PERIODICAL,
        RET_EXCL_CONFIRMED,
        RET_INTACT,
        QUALITY_RETURN,
        EXCHANGE_NON_QUALITY,
        SHIPPING_PAYER,
        REFUND_DEADLINE,
        COMPLAINT_24H,
        AUTHORITY_LIMIT,
        SERVICE_HOURS,
        IDENTITY_VERIFY,
        HANDOFF_PRIORITY,
    }
)
# 004 §3.1: urgent matters (account security, payment anomalies) start within 5 minutes.
URGENT_HANDOFF_MAX_MINUTES = 5

# Exclusion rules in the order they are checked, with the order-system item flag each
# one matches. The flag doubles as the record-contract reason code.
EXCLUSION_RULE_FLAGS: Mapping[RuleId, str] = {
    RET_EXCL_CUSTOMIZED: "customized",
    RET_EXCL_PERISHABLE: "perishable",
    RET_EXCL_DIGITAL: "digital_download",
    RET_EXCL_PERIODICAL: "periodical",
    RET_EXCL_CONFIRMED: "confirmed_non_returnable",
}
ITEM_FLAGS = frozenset(EXCLUSION_RULE_FLAGS.values())

# Record-contract vocabulary (../shared/acceptance/README.md). Each closed set is a
# `Literal`, so mypy refuses a value outside it; the constants are checked against theirs.
# The outcome of a return or exchange decision.
ItemOutcome = Literal["eligible", "not_eligible", "needs_info"]
ELIGIBLE: Final[ItemOutcome] = "eligible"
NOT_ELIGIBLE: Final[ItemOutcome] = "not_eligible"
NEEDS_INFO: Final[ItemOutcome] = "needs_info"
# Reason codes of return and exchange decisions besides the exclusions' item flags.
WITHIN_WINDOW = "within_window"
QUALITY_ISSUE = "quality_issue"
WINDOW_EXPIRED = "window_expired"
NOT_INTACT = "not_intact"
NOT_DELIVERED = "not_delivered"
RefundOutcome = Literal["completed", "on_time", "overdue", "none"]
REFUND_COMPLETED: Final[RefundOutcome] = "completed"
REFUND_ON_TIME: Final[RefundOutcome] = "on_time"
REFUND_OVERDUE: Final[RefundOutcome] = "overdue"
REFUND_NONE: Final[RefundOutcome] = "none"
ComplaintOutcome = Literal["created"]
COMPLAINT_CREATED: Final[ComplaintOutcome] = "created"
AuthorityOutcome = Literal["within_authority", "beyond_authority"]
WITHIN_AUTHORITY: Final[AuthorityOutcome] = "within_authority"
BEYOND_AUTHORITY: Final[AuthorityOutcome] = "beyond_authority"
ServiceHoursOutcome = Literal["open", "closed"]
SERVICE_OPEN: Final[ServiceHoursOutcome] = "open"
SERVICE_CLOSED: Final[ServiceHoursOutcome] = "closed"
# What a decision can conclude, whichever question it answers.
DecisionOutcome = Literal[ItemOutcome, RefundOutcome, ComplaintOutcome, AuthorityOutcome, ServiceHoursOutcome]
# Why a conversation goes to a person, in the order of the file's priorities.
HandoffReason = Literal[
    "urgent",
    "beyond_authority",
    "overdue_refund",
    "repeated_failure",
    "system_error",
    "user_request",
    "other",
]
HANDOFF_REASONS: tuple[HandoffReason, ...] = get_args(HandoffReason)
AuthorityKind = Literal["refund", "compensation"]
AUTHORITY_KINDS: tuple[AuthorityKind, ...] = get_args(AuthorityKind)
OutsideHoursAction = Literal["callback"]
OUTSIDE_HOURS_ACTIONS: tuple[OutsideHoursAction, ...] = get_args(OutsideHoursAction)

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

    rule: RuleId
    outcome: DecisionOutcome
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
    outside_hours: OutsideHoursAction


@dataclass(frozen=True)
class PolicySettings:
    """Every number of the policy file, validated."""

    return_window_days: int
    exclusions_enforced: Mapping[RuleId, bool]
    intact_required: bool
    quality: QualitySettings
    exchange_window_days: int
    shipping: ShippingSettings
    refund: RefundSettings
    complaint: ComplaintSettings
    authority: AuthoritySettings
    service_hours: ServiceHoursSettings
    max_identity_attempts: int
    handoff_priorities: Mapping[HandoffReason, int]
    handoff_response_minutes: Mapping[int, int]
    handoff_other_response_minutes: int
