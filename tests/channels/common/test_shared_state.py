"""The channels' shared state, in memory and in the local Redis for real."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from channels.common.shared_state import SharedMap, SharedState

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def state(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SharedState]:
    if request.param == "memory":
        yield SharedState()
        return
    if request.param == "sqlite":
        yield SharedState(sqlite_path=str(tmp_path / "channel_state.db"))
        return
    shared = SharedState(REDIS_URL, f"test-{uuid.uuid4().hex[:8]}")
    yield shared
    client = shared.client()
    keys = [key async for key in client.scan_iter(f"{shared.key_prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.close()


async def test_a_value_put_is_read_back_and_popped_once(state: SharedState) -> None:
    options = state.map("test:options", ttl_s=60)
    await options.put("wx:openid-1", ["/request_refund", "/request_human"])

    assert await options.get("wx:openid-1") == ["/request_refund", "/request_human"]
    assert await options.pop("wx:openid-1") == ["/request_refund", "/request_human"]
    assert await options.pop("wx:openid-1") is None
    assert await options.get("wx:openid-1") is None


async def test_only_the_first_claim_of_a_key_wins_even_when_they_race(state: SharedState) -> None:
    seen = state.map("test:seen", ttl_s=60)

    results = await asyncio.gather(*(seen.claim("conversation-1:message-7") for _ in range(10)))

    assert sorted(results) == [False] * 9 + [True]
    assert await seen.claim("conversation-1:message-8") is True


async def test_two_namespaces_keep_their_keys_apart(state: SharedState) -> None:
    first, second = state.map("test:a", ttl_s=60), state.map("test:b", ttl_s=60)
    await first.put("k", 1)

    assert await second.get("k") is None


async def test_entries_expire_after_their_ttl(state: SharedState) -> None:
    short: SharedMap = state.map("test:short", ttl_s=0.05)
    await short.put("k", "v")
    await asyncio.sleep(0.2)  # the expiry itself is under test: Redis's and the clock's

    assert await short.get("k") is None
    assert await short.claim("k") is True


async def test_two_processes_configured_alike_see_the_same_redis_state() -> None:
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    one, other = SharedState(REDIS_URL, prefix), SharedState(REDIS_URL, prefix)
    try:
        assert await one.map("widget:seen", ttl_s=60).claim("m1") is True
        assert await other.map("widget:seen", ttl_s=60).claim("m1") is False
    finally:
        await one.client().delete(f"{prefix}:widget:seen:m1")
        await one.client().close()
        await other.client().close()


async def test_a_sqlite_state_outlives_its_process_and_is_seen_by_the_next(tmp_path: Path) -> None:
    path = str(tmp_path / "state" / "channel_state.db")
    before_restart = SharedState(sqlite_path=path)
    assert await before_restart.map("wechat:pushes", ttl_s=600).claim("m1") is True
    await before_restart.map("wechat:buttons", ttl_s=600).put("c1", ["/a", "/b"])

    after_restart = SharedState(sqlite_path=path)  # what a restarted Rasa builds

    assert before_restart.durable and not before_restart.shared
    assert await after_restart.map("wechat:pushes", ttl_s=600).claim("m1") is False
    assert await after_restart.map("wechat:buttons", ttl_s=600).pop("c1") == ["/a", "/b"]
    assert await before_restart.map("wechat:buttons", ttl_s=600).get("c1") is None


async def test_redis_down_reads_nothing_and_lets_every_message_through(caplog: pytest.LogCaptureFixture) -> None:
    down = SharedState("redis://127.0.0.1:9/0", "test")
    seen = down.map("widget:seen", ttl_s=60)

    assert await seen.claim("m1") is True
    assert await seen.get("m1") is None
    await seen.put("m1", True)
    assert await seen.pop("m1") is None
    assert "Redis unreachable" in caplog.text


def test_settings_come_from_the_environment() -> None:
    assert SharedState.from_env({}) == SharedState(None, "aftersales")
    assert not SharedState.from_env({"CHANNEL_STATE_REDIS_URL": " "}).shared
    configured = SharedState.from_env(
        {"CHANNEL_STATE_REDIS_URL": "redis://redis:6379/1", "CHANNEL_STATE_KEY_PREFIX": "shop7"}
    )
    assert configured == SharedState("redis://redis:6379/1", "shop7")
    embedded = SharedState.from_env({"CHANNEL_STATE_SQLITE_PATH": "/srv/aftersales/state.db"})
    assert (embedded.sqlite_path, embedded.durable, embedded.shared) == ("/srv/aftersales/state.db", True, False)
    assert not SharedState.from_env({}).durable
    with pytest.raises(ValueError, match="redis://"):
        SharedState.from_env({"CHANNEL_STATE_REDIS_URL": "http://127.0.0.1:6379"})
