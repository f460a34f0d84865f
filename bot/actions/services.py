"""The services every action uses, built once per process on first use.

rasa-sdk makes one instance of each action for all conversations, so nothing about a
conversation lives here: only the policy, the two HTTP clients, the outbox of writes to
the record service and the clock. They are
built lazily (not at import time) from `ActionSettings.from_env()`; the action server's
plugin builds them at start so that a missing secret stops it at once. Tests configure
their own with `use_services`.

The clients are synchronous (`requests`); `call` runs them in a worker thread so that a
slow order system never blocks the event loop that serves every other conversation.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import ParamSpec, TypeVar

from bot.actions.order_client import OrderClient
from bot.actions.outbox import WriteOutbox
from bot.actions.records_client import RecordsClient
from bot.actions.settings import ActionSettings
from bot.policy import Policy, load_policy
from service_common.db import make_engine

P = ParamSpec("P")
T = TypeVar("T")


def utc_now() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Services:
    """What actions decide with and talk to.

    Attributes:
        policy: The after-sales policy (bot/policy/aftersales_policy.yml).
        orders: The order system's client.
        records: The record service's client.
        outbox: Where every write to the record service is queued before the shopper
            is told about it (``bot.actions.outbox``).
        clock: Returns the current aware time (tests may fix it).
    """

    policy: Policy
    orders: OrderClient
    records: RecordsClient
    outbox: WriteOutbox
    clock: Callable[[], datetime] = utc_now

    @classmethod
    def from_settings(cls, settings: ActionSettings) -> Services:
        """Builds the services from settings and the policy file they name."""
        return cls(
            policy=load_policy(settings.policy_file),
            orders=OrderClient.from_settings(settings),
            records=RecordsClient.from_settings(settings),
            outbox=WriteOutbox(
                make_engine(settings.outbox_database_url), poll_interval_s=settings.outbox_interval_s
            ),
        )


_lock = threading.Lock()
_services: Services | None = None


def services() -> Services:
    """The process's services, built from the environment on first use.

    Raises:
        MissingSettingError: A required secret is missing from the environment.
        PolicyError: The policy file is invalid.
    """
    global _services
    with _lock:
        if _services is None:
            _services = Services.from_settings(ActionSettings.from_env())
        return _services


def use_services(replacement: Services | None) -> None:
    """Replaces the process's services (tests); None rebuilds them from the environment."""
    global _services
    with _lock:
        _services = replacement


async def call(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Runs a blocking client call in a worker thread."""
    return await asyncio.to_thread(function, *args, **kwargs)
