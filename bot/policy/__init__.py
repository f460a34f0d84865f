"""After-sales policy: the merchant-editable rules file and the engine that applies it."""

from bot.policy.engine import (
    Decision,
    ItemLike,
    OrderLike,
    Policy,
    PolicyError,
    RefundLike,
    RuleInfo,
    WorkingDayCalendar,
    default_policy_path,
    load_policy,
)

__all__ = [
    "Decision",
    "ItemLike",
    "OrderLike",
    "Policy",
    "PolicyError",
    "RefundLike",
    "RuleInfo",
    "WorkingDayCalendar",
    "default_policy_path",
    "load_policy",
]
