"""Ticket ids: drawn by the record service, or by the bot before the service confirms.

A complaint or handoff ticket id is a prefix (``TS`` complaint, ``HO`` handoff), the
Beijing date and eight random digits: ``TS24050112345678``. The action server draws the
id itself when it queues a ticket in its outbox, so that the shopper is told the number
at once even while the record service is down; the service keeps the id it is given.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

TicketPrefix = Literal["TS", "HO"]
COMPLAINT_PREFIX: TicketPrefix = "TS"
HANDOFF_PREFIX: TicketPrefix = "HO"
TICKET_ID_PATTERN = re.compile(r"(TS|HO)[0-9]{14}")

_BEIJING = ZoneInfo("Asia/Shanghai")


def new_ticket_id(prefix: TicketPrefix, now: datetime) -> str:
    """A new random ticket id for a ticket opened at ``now`` (an aware time)."""
    return f"{prefix}{now.astimezone(_BEIJING):%y%m%d}{secrets.randbelow(10**8):08d}"


def is_ticket_id(value: str, prefix: TicketPrefix) -> bool:
    """Whether ``value`` is a well-formed ticket id with ``prefix``."""
    return value.startswith(prefix) and TICKET_ID_PATTERN.fullmatch(value) is not None
