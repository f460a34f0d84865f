"""A bounded in-memory map whose entries expire: each channel's short-lived memory in one
process (the shared state's default, and WeChat's deliveries in flight)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

# More entries than any one process sees within a TTL; the oldest go first beyond it.
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
