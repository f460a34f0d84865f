"""After-sales policy: the merchant-editable rules file and the engine that applies it.

``model`` holds the rule ids, decisions and settings, ``loader`` reads and validates
``aftersales_policy.yml``, ``evaluation`` answers questions with decisions; the PRC
working-day calendar is :mod:`service_common.workdays`.
"""

from bot.policy.evaluation import Policy
from bot.policy.loader import default_policy_path, load_policy
from bot.policy.model import Decision, ItemLike, OrderLike, PolicyError, RefundLike, RuleInfo
from service_common.workdays import WorkingDayCalendar

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
