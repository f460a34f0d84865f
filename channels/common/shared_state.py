"""Short-lived state a channel shares between the Rasa processes that serve it.

A channel remembers a few things between two requests of the same shopper: which
messages it has already taken (a platform's redeliveries), the numbered options it just
showed, pictures waiting for their text. With one Rasa process these can live in its
memory; with several (Sanic workers, replicas), the next request may reach another
process, so they live in Redis, under keys that expire on their own.

`SharedState.from_env()` reads `CHANNEL_STATE_REDIS_URL` (Redis: every process, the
production mode), else `CHANNEL_STATE_SQLITE_PATH` (a SQLite file: the embedded default of
`make up`, so that what a channel has taken survives a restart of Rasa and a platform's
redelivery after it is not a second turn), else this process's memory; and
`CHANNEL_STATE_KEY_PREFIX`, once. Each channel asks it for the maps it needs
(`state.map("widget:seen", ttl_s=600)`). Values are JSON.

When Redis cannot be reached, a map logs the error and behaves as if it held nothing:
`claim` says yes, so a message is answered (perhaps twice) rather than lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis.asyncio as redis_asyncio
from redis.exceptions import RedisError

from channels.common.ttl_cache import MAX_ENTRIES, TtlCache

logger = logging.getLogger(__name__)

URL_VARIABLE = "CHANNEL_STATE_REDIS_URL"
SQLITE_VARIABLE = "CHANNEL_STATE_SQLITE_PATH"
# How long a SQLite writer waits for another process's transaction.
SQLITE_BUSY_TIMEOUT_S = 5.0
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


class SqliteMap:
    """A `SharedMap` in a SQLite file: it survives a restart of the process, and the
    processes of one machine see the same values. Each call runs in a worker thread
    (blocking I/O never runs on the event loop), under the process's one lock."""

    def __init__(
        self, connection: sqlite3.Connection, lock: threading.Lock, namespace: str, ttl_s: float
    ) -> None:
        self._connection = connection
        self._lock = lock
        self._namespace = namespace
        self._ttl_s = ttl_s

    def _read(self, key: str, now: float) -> Any | None:
        row = self._connection.execute(
            "SELECT value FROM channel_state WHERE namespace = ? AND key = ? AND expires_at > ?",
            (self._namespace, key, now),
        ).fetchone()
        return None if row is None else json.loads(row[0])

    def _write(self, key: str, value: Any, now: float) -> None:
        self._connection.execute(
            "INSERT OR REPLACE INTO channel_state (namespace, key, value, expires_at) VALUES (?, ?, ?, ?)",
            (self._namespace, key, json.dumps(value, ensure_ascii=False), now + self._ttl_s),
        )

    def _get(self, key: str) -> Any | None:
        with self._lock:
            return self._read(key, time.time())

    def _put(self, key: str, value: Any) -> None:
        with self._lock, self._connection:
            now = time.time()
            self._connection.execute("DELETE FROM channel_state WHERE expires_at <= ?", (now,))
            self._write(key, value, now)

    def _pop(self, key: str) -> Any | None:
        with self._lock, self._connection:
            value = self._read(key, time.time())
            self._connection.execute(
                "DELETE FROM channel_state WHERE namespace = ? AND key = ?", (self._namespace, key)
            )
            return value

    def _claim(self, key: str) -> bool:
        with self._lock, self._connection:
            now = time.time()
            if self._read(key, now) is not None:
                return False
            self._write(key, True, now)
            return True

    async def get(self, key: str) -> Any | None:
        return await asyncio.to_thread(self._get, key)

    async def put(self, key: str, value: Any) -> None:
        await asyncio.to_thread(self._put, key, value)

    async def pop(self, key: str) -> Any | None:
        return await asyncio.to_thread(self._pop, key)

    async def claim(self, key: str) -> bool:
        return await asyncio.to_thread(self._claim, key)


def open_sqlite_state(path: str) -> sqlite3.Connection:
    """The channel-state database at `path` (created with its table when missing)."""
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    # One connection per process, used under a lock; transactions by `with connection`.
    connection = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_S, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    # Survives a killed process (what it is for); an OS crash may lose the last entries.
    connection.execute("PRAGMA synchronous=NORMAL")
    with connection:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS channel_state (namespace TEXT NOT NULL, key TEXT NOT NULL, "
            "value TEXT NOT NULL, expires_at REAL NOT NULL, PRIMARY KEY (namespace, key))"
        )
    return connection


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
        redis_url: Redis, e.g. ``redis://127.0.0.1:6379/0``; None: no Redis.
        key_prefix: Put before every key, so that several deployments can share a Redis.
        sqlite_path: Without Redis, a SQLite file that outlives the process; None (and no
            Redis): this process's memory.
    """

    redis_url: str | None = None
    key_prefix: str = DEFAULT_PREFIX
    sqlite_path: str | None = None
    _client: list[redis_asyncio.Redis] = field(default_factory=list, repr=False, compare=False)
    _sqlite: list[sqlite3.Connection] = field(default_factory=list, repr=False, compare=False)
    _sqlite_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

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
        return cls(
            url,
            (environ.get(PREFIX_VARIABLE) or "").strip() or DEFAULT_PREFIX,
            (environ.get(SQLITE_VARIABLE) or "").strip() or None,
        )

    @property
    def shared(self) -> bool:
        """Whether every process, on every machine, sees the same state (Redis)."""
        return self.redis_url is not None

    @property
    def durable(self) -> bool:
        """Whether the state outlives this process (Redis or SQLite)."""
        return self.redis_url is not None or self.sqlite_path is not None

    def map(self, namespace: str, ttl_s: float, max_entries: int = MAX_ENTRIES) -> SharedMap:
        """A map of its own for `namespace` (e.g. ``"widget:seen"``) whose entries live `ttl_s`."""
        if self.redis_url is not None:
            return RedisMap(self.client(), f"{self.key_prefix}:{namespace}", ttl_s)
        if self.sqlite_path is not None:
            with self._sqlite_lock:
                if not self._sqlite:
                    self._sqlite.append(open_sqlite_state(self.sqlite_path))
            return SqliteMap(self._sqlite[0], self._sqlite_lock, namespace, ttl_s)
        return MemoryMap(ttl_s, max_entries)

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
