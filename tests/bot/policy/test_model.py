"""The rule model's constants: every rule id once, the same set as the policy file's."""

from __future__ import annotations

import re

import yaml

from bot.policy import default_policy_path, model
from bot.policy.model import (
    AUTHORITY_KINDS,
    HANDOFF_REASONS,
    OUTSIDE_HOURS_ACTIONS,
    RULE_IDS,
)

RULE_ID_SHAPE = re.compile(r"[A-Z0-9]+(?:-[A-Z0-9]+)+")


def test_rule_ids_are_the_engines_rules() -> None:
    assert RULE_IDS == {
        "RET-7D-WINDOW",
        "RET-NOT-DELIVERED",
        "RET-EXCL-CUSTOMIZED",
        "RET-EXCL-PERISHABLE",
        "RET-EXCL-DIGITAL",
        "RET-EXCL-PERIODICAL",
        "RET-EXCL-CONFIRMED",
        "RET-INTACT",
        "QUALITY-RETURN",
        "EXCHANGE-NON-QUALITY",
        "SHIPPING-PAYER",
        "REFUND-DEADLINE",
        "COMPLAINT-24H",
        "AUTHORITY-LIMIT",
        "SERVICE-HOURS",
        "IDENTITY-VERIFY",
        "HANDOFF-PRIORITY",
    }


def test_rule_ids_are_the_ids_of_the_shipped_policy_file() -> None:
    document = yaml.safe_load(default_policy_path().read_text(encoding="utf-8"))

    assert {rule["id"] for rule in document["rules"]} == RULE_IDS


def test_every_rule_id_constant_is_in_rule_ids() -> None:
    constants = {
        name: value
        for name, value in vars(model).items()
        if name.isupper() and isinstance(value, str) and RULE_ID_SHAPE.fullmatch(value)
    }

    assert set(constants.values()) == RULE_IDS
    assert all(name == value.replace("-", "_") for name, value in constants.items())


def test_closed_sets_keep_their_wire_values_in_order() -> None:
    assert HANDOFF_REASONS == (
        "urgent",
        "beyond_authority",
        "overdue_refund",
        "repeated_failure",
        "system_error",
        "user_request",
        "other",
    )
    assert AUTHORITY_KINDS == ("refund", "compensation")
    assert OUTSIDE_HOURS_ACTIONS == ("callback",)
