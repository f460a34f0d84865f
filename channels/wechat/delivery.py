"""One bot turn per push, answered once: passively or through the customer-service API.

WeChat gives up on a push after 5 seconds and sends it again, up to three times. The
first copy starts the turn; every copy waits on that same turn, up to the reply window.
Whichever copy is still waiting when the turn ends replies passively (reply XML); if none
is, the answer goes out through the customer-service API, once.

The book lives in this process's memory (see the README on durability).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any, Generic, Literal, TypeVar

# WeChat's three retries span about 15 s; ten minutes is a wide margin.
DEDUPE_TTL_S = 600.0
MAX_ENTRIES = 10_000

V = TypeVar("V")


class TtlCache(Generic[V]):
    """A bounded map whose entries expire; when full, the oldest entry goes first.

    Not thread-safe: used from the event loop only.
    """

    def __init__(self, ttl_s: float, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        """Creates an empty cache.

        Args:
            ttl_s: Seconds an entry lives after it was put.
            max_entries: How many entries it keeps at most.
            clock: Monotonic seconds (a fake clock in tests).
        """
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def get(self, key: str) -> V | None:
        """The live value of `key`, or None."""
        self._expire()
        entry = self._entries.get(key)
        return entry[1] if entry else None

    def put(self, key: str, value: V) -> None:
        """Stores `value` for `key`, for the cache's TTL from now."""
        self._expire()
        self._entries[key] = (self._clock() + self._ttl_s, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def pop(self, key: str) -> V | None:
        """Removes `key` and returns its live value, or None."""
        self._expire()
        entry = self._entries.pop(key, None)
        return entry[1] if entry else None

    def __len__(self) -> int:
        self._expire()
        return len(self._entries)

    def _expire(self) -> None:
        # Entries are in expiry order: every put moves its key to the end.
        now = self._clock()
        while self._entries:
            key, (expires_at, _) = next(iter(self._entries.items()))
            if expires_at > now:
                break
            del self._entries[key]


DeliveryMode = Literal["passive", "push"]


class Delivery:
    """One push's bot turn, and how its answer was delivered.

    Attributes:
        task: The turn; its result is the list of texts to send.
        mode: None until decided, then `passive` (reply XML) or `push` (customer-service API).
    """

    def __init__(self, task: asyncio.Task[list[str]], push: Callable[[list[str]], None]) -> None:
        """Follows a started turn.

        Args:
            task: The running turn.
            push: Sends the texts through the customer-service API.
        """
        self.task = task
        self.mode: DeliveryMode | None = None
        self._push = push
        self._waiters = 0
        task.add_done_callback(lambda _: self.settle())

    async def passive_answer(self, timeout_s: float) -> list[str] | None:
        """Waits for the turn up to `timeout_s` (the turn itself is never cancelled).

        Returns:
            The texts to reply passively, or None: the turn is not done yet (the answer
            will go through the customer-service API unless a later copy of the push
            catches it), or it already went that way.
        """
        self._waiters += 1
        try:
            await asyncio.wait({self.task}, timeout=max(timeout_s, 0.0))
        except asyncio.CancelledError:
            # WeChat closed the connection: the answer must not wait for this copy.
            self._waiters -= 1
            self.settle()
            raise
        self._waiters -= 1
        if self.task.done() and not self.task.cancelled() and self.mode != "push":
            self.mode = "passive"
            return self.task.result()
        return None

    def settle(self) -> None:
        """Pushes the answer of a finished turn if no copy of the push waits for it.

        Runs when the turn ends; a copy waiting then is woken by the same event and takes
        the answer passively.
        """
        if self.mode is not None or self._waiters or not self.task.done():
            return
        if self.task.cancelled() or self.task.exception() is not None:
            return
        self.mode = "push"
        self._push(self.task.result())


class DeliveryBook:
    """At most one bot turn per push key, however WeChat's retries interleave.

    Finding and starting a turn happens without an `await` in between, so on one event
    loop no lock is needed. (Several processes would need a shared store, e.g. `SET NX`.)
    """

    def __init__(self, ttl_s: float = DEDUPE_TTL_S, max_entries: int = MAX_ENTRIES) -> None:
        self._deliveries: TtlCache[Delivery] = TtlCache(ttl_s, max_entries)

    def get_or_start(
        self,
        key: str,
        turn: Callable[[], Coroutine[Any, Any, list[str]]],
        push: Callable[[list[str]], None],
    ) -> tuple[Delivery, bool]:
        """The delivery of the push `key`, started now if it is the first copy.

        Args:
            key: The push's dedupe key.
            turn: Runs the bot turn; called only by the first copy.
            push: Sends the texts through the customer-service API, if nobody replies
                passively.

        Returns:
            The delivery, and whether this call started its turn.
        """
        existing = self._deliveries.get(key)
        if existing is not None:
            return existing, False
        delivery = Delivery(asyncio.ensure_future(turn()), push)
        self._deliveries.put(key, delivery)
        return delivery, True

    def __len__(self) -> int:
        return len(self._deliveries)
