"""Pulls of one account run one at a time, and a callback during a pull is not lost."""

from __future__ import annotations

import asyncio

import pytest

from channels.wecom.pulls import PullQueue


class RecordingPull:
    def __init__(self, duration_s: float = 0.05) -> None:
        self.calls: list[tuple[str, str]] = []
        self.running: dict[str, int] = {}
        self.overlaps = 0
        self.duration_s = duration_s

    async def __call__(self, open_kfid: str, token: str) -> None:
        self.running[open_kfid] = self.running.get(open_kfid, 0) + 1
        self.overlaps += self.running[open_kfid] > 1
        self.calls.append((open_kfid, token))
        await asyncio.sleep(self.duration_s)
        self.running[open_kfid] -= 1


async def test_callbacks_during_a_pull_make_one_more_pull_with_the_newest_token() -> None:
    pull = RecordingPull()
    queue = PullQueue(pull)
    queue.request("wk1", "t1")
    await asyncio.sleep(0.01)  # the first pull runs
    for token in ("t2", "t3", "t4"):
        queue.request("wk1", token)
    await queue.idle()
    assert pull.calls == [("wk1", "t1"), ("wk1", "t4")]
    assert pull.overlaps == 0


async def test_accounts_pull_side_by_side_and_a_catch_up_keeps_the_known_token() -> None:
    pull = RecordingPull()
    queue = PullQueue(pull)
    queue.request("wk1", "t1")
    queue.request("wk2", "")
    await asyncio.sleep(0.01)
    assert pull.running == {"wk1": 1, "wk2": 1}
    queue.request("wk1", "")  # a catch-up while a callback's pull runs
    await queue.idle()
    assert sorted(pull.calls) == [("wk1", "t1"), ("wk1", "t1"), ("wk2", "")]


async def test_a_failed_pull_is_logged_and_the_next_request_pulls_again(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []

    async def failing(open_kfid: str, token: str) -> None:
        calls.append(token)
        if token == "t1":
            raise RuntimeError("WeCom is down")

    queue = PullQueue(failing)
    queue.request("wk1", "t1")
    await queue.idle()
    queue.request("wk1", "t2")
    await queue.idle()
    assert calls == ["t1", "t2"]
    assert "a pull failed (RuntimeError: WeCom is down)" in caplog.text


async def test_cancel_stops_running_and_waiting_pulls() -> None:
    pull = RecordingPull(duration_s=30)
    queue = PullQueue(pull)
    queue.request("wk1", "t1")
    await asyncio.sleep(0.01)
    queue.request("wk1", "t2")
    await asyncio.wait_for(queue.cancel(), timeout=5)
    await queue.idle()
    assert pull.calls == [("wk1", "t1")]
