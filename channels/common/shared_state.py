"""Short-lived state a channel shares between the Rasa processes that serve it.

A channel remembers a few things between two requests of the same shopper: which
messages it has already taken (a platform's redeliveries), the numbered options it just
showed, pictures waiting for their text. With one Rasa process these can live in its
memory; with several (Sanic workers, replicas), the next request may reach another
process, so they live in Redis, under keys that expire on their own.

`SharedState.from_env()` reads `CHANNEL_STATE_REDIS_URL` (empty or unset: this process's
memory, the embedded default) and `CHANNEL_STATE_KEY_PREFIX`, once; each channel asks it
for the maps it needs (`state.map("widget:seen", ttl_s=600)`). Values are JSON.

When Redis cannot be reached, a map logs the error and behaves as if it held nothing:
`claim` says yes, so a message is answered (perhaps twice) rather than lost.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis.asyncio as redis_asyncio
from redis.exceptions import RedisError

from channels.common.ttl_cache import MAX_ENTRIES, TtlCache

logger = logging.getLogger(__name__)

URL_VARIABLE = "CHANNEL_STATE_REDIS_URL"
PREFIX_VARIABLE = "CHANNEL_STATE_KEY_PREFIX"
DEFAULT_PREFIX = "aftersales"
# A Redis call that takes longer than this is treated as Redis being down.
REDIS_TIMEOUT_S = 2.0


class SharedMap(Protocol):
    """Keys to JSON values that expire a fixed time after they were put."""

    async def get(self, key: str) -> Any | None:
        """The live value of `key`, or None."""

    async def put(self, key: str, value: Any) -> None:
        """Stores `value` for `key`, for the map's TTL from now."""

    async def pop(self, key: str) -> Any | None:
        """Removes `key` and returns its live value, or None."""

    async def claim(self, key: str) -> bool:
        """Takes `key` if nobody holds it, atomically across processes: True for the first caller."""


class MemoryMap:
    """A `SharedMap` in this process's memory: right for one Rasa process."""

    def __init__(self, ttl_s: float, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: TtlCache[Any] = TtlCache(ttl_s, max_entries)

    async def get(self, key: str) -> Any | None:
        return self._entries.get(key)

    async def put(self, key: str, value: Any) -> None:
        self._entries.put(key, value)

    async def pop(self, key: str) -> Any | None:
        return self._entries.pop(key)

    async def claim(self, key: str) -> bool:
        # No await between the lookup and the put: one claimant per key on one event loop.
        if self._entries.get(key) is not None:
            return False
        self._entries.put(key, True)
        return True


class RedisMap:
    """A `SharedMap` in Redis: every Rasa process sees the same values."""

    def __init__(self, client: redis_asyncio.Redis, namespace: str, ttl_s: float) -> None:
        self._client = client
        self._namespace = namespace
        self._ttl_ms = max(1, int(ttl_s * 1000))

    def _key(self, key: str) -> str:
        return f"{self._namespace}:{key}"

    async def get(self, key: str) -> Any | None:
        try:
            raw = await self._client.get(self._key(key))
        except RedisError as error:
            return self._unreachable("get", error, None)
        return json.loads(raw) if raw is not None else None

    async def put(self, key: str, value: Any) -> None:
        try:
            await self._client.set(self._key(key), json.dumps(value, ensure_ascii=False), px=self._ttl_ms)
        except RedisError as error:
            self._unreachable("put", error, None)

    async def pop(self, key: str) -> Any | None:
        try:
            raw = await self._client.getdel(self._key(key))
        except RedisError as error:
            return self._unreachable("pop", error, None)
        return json.loads(raw) if raw is not None else None

    async def claim(self, key: str) -> bool:
        try:
            return bool(await self._client.set(self._key(key), "true", px=self._ttl_ms, nx=True))
        except RedisError as error:
            return bool(self._unreachable("claim", error, True))

    def _unreachable(self, operation: str, error: RedisError, fallback: Any) -> Any:
        logger.error(
            "channel state %s %s: Redis unreachable (%s)", self._namespace, operation, type(error).__name__
        )
        return fallback


@dataclass(frozen=True)
class SharedState:
    """Where channels keep what every Rasa process must see.

    Attributes:
        redis_url: Redis, e.g. ``redis://127.0.0.1:6379/0``; None: this process's memory.
        key_prefix: Put before every key, so that several deployments can share a Redis.
    """

    redis_url: str | None = None
    key_prefix: str = DEFAULT_PREFIX
    _client: list[redis_asyncio.Redis] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SharedState:
        """The settings from `CHANNEL_STATE_REDIS_URL` and `CHANNEL_STATE_KEY_PREFIX`.

        Raises:
            ValueError: The URL is not a redis:// or rediss:// URL.
        """
        environ = os.environ if environ is None else environ
        url = (environ.get(URL_VARIABLE) or "").strip() or None
        if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"{URL_VARIABLE} must be a redis:// URL, not {url.split(':', 1)[0]!r}")
        return cls(url, (environ.get(PREFIX_VARIABLE) or "").strip() or DEFAULT_PREFIX)

    @property
    def shared(self) -> bool:
        """Whether several processes see the same state (Redis)."""
        return self.redis_url is not None

    def map(self, namespace: str, ttl_s: float, max_entries: int = MAX_ENTRIES) -> SharedMap:
        """A map of its own for `namespace` (e.g. ``"widget:seen"``) whose entries live `ttl_s`."""
        if self.redis_url is None:
            return MemoryMap(ttl_s, max_entries)
        return RedisMap(self.client(), f"{self.key_prefix}:{namespace}", ttl_s)

    def client(self) -> redis_asyncio.Redis:
        """The one Redis client of this process (connections are opened on first use).

        Raises:
            ValueError: There is no Redis (`shared` is False).
        """
        if self.redis_url is None:
            raise ValueError("channel state is in memory: there is no Redis client")
        if not self._client:
            self._client.append(
                redis_asyncio.Redis.from_url(
                    self.redis_url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
                )
            )
        return self._client[0]
