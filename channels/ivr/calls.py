"""What the channel remembers about each call while it lasts.

Per call id: the caller's number (fixed by the first turn), the answered turns (so a
retried turn gets the same answer without a second bot turn), the transcript waiting
for confirmation, the options read out last, the last speech (for `*`, repeat) and
whether the call is over. Entries expire an hour after the call's last turn.

Limit: this lives in the Rasa process's memory. A restart forgets it (a retry after a
restart runs the turn again; Rasa's message id is the same, the dialogue may not be),
and several Rasa processes behind a load balancer need the platform to keep a call on
one process (or a shared store). See the README.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from channels.ivr.inbound import Pending
from channels.ivr.render import Option
from channels.wechat.delivery import TtlCache

CALL_TTL_S = 3600.0
MAX_CALLS = 10_000
# Answers kept per call for retries; an older turn retried is refused as out of order.
MAX_TURNS_KEPT = 50


@dataclass
class AnsweredTurn:
    """A turn being answered or answered: what it carried, and its answer."""

    fingerprint: str
    answer: asyncio.Future[dict[str, Any]]


@dataclass
class Call:
    """One call's state.

    Attributes:
        caller: The caller's number in national form, None when withheld.
        lock: Held while a turn of the call is answered: turns run one after another.
        turns: Turn id -> its answer, oldest first.
        last_turn_id: The highest turn id seen.
        pending: The transcript waiting for confirmation.
        options: The options read out last.
        last_speech: What the caller heard last.
        ended: Whether the call is over (hung up by either side).
    """

    caller: str | None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    turns: OrderedDict[int, AnsweredTurn] = field(default_factory=OrderedDict)
    last_turn_id: int = 0
    pending: Pending | None = None
    options: list[Option] = field(default_factory=list)
    last_speech: str = ""
    ended: bool = False

    def remember(self, turn_id: int, answered: AnsweredTurn) -> None:
        """Keeps a turn's answer for its retries (the oldest beyond the limit goes)."""
        self.turns[turn_id] = answered
        self.last_turn_id = max(self.last_turn_id, turn_id)
        while len(self.turns) > MAX_TURNS_KEPT:
            self.turns.popitem(last=False)


class CallBook:
    """The calls in progress, each kept for `ttl_s` after its latest turn.

    Not thread-safe: used from the event loop only.
    """

    def __init__(
        self,
        ttl_s: float = CALL_TTL_S,
        max_calls: int = MAX_CALLS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._calls: TtlCache[Call] = TtlCache(ttl_s, max_calls, clock)

    def get(self, call_id: str) -> Call | None:
        """The call's state, or None for a call not seen (or expired)."""
        return self._calls.get(call_id)

    def start(self, call_id: str, caller: str | None) -> Call:
        """A new call's state."""
        call = Call(caller)
        self._calls.put(call_id, call)
        return call

    def touch(self, call_id: str, call: Call) -> None:
        """Keeps the call for another TTL from now."""
        self._calls.put(call_id, call)

    def __len__(self) -> int:
        return len(self._calls)
