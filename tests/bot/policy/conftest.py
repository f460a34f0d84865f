"""Fixtures for the policy engine tests."""

from __future__ import annotations

import pytest

from bot.policy import Policy, load_policy


@pytest.fixture
def policy() -> Policy:
    """A fresh copy of the shipped policy (fresh, so its calendar warns anew)."""
    return load_policy()
