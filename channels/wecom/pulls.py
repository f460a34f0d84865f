"""Pulls of one customer-service account run one at a time, and none is missed.

WeCom sends a callback whenever an account has news, often several in a row. Two pulls
of one account at the same time would read the same page from the same cursor and
answer its messages twice, so they queue: one runs, at most one waits. The waiting one
starts after the running one with the newest callback token and reads everything the
callbacks in between announced; more callbacks meanwhile only update its token.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

Pull = Callable[[str, str], Awaitable[None]]


@dataclass
class _Account:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: bool = False
    token: str = ""


class PullQueue:
    """Per account: one pull running, at most one more waiting.

    Used from the event loop only.
    """

    def __init__(self, pull: Pull) -> None:
        """Creates an empty queue.

        Args:
            pull: Pulls and handles an account's news: `pull(open_kfid, token)`. Its
                errors are logged; the next callback pulls again.
        """
        self._pull = pull
        self._accounts: dict[str, _Account] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def request(self, open_kfid: str, token: str) -> None:
        """Asks for a pull of `open_kfid`, after the one running (if any).

        Args:
            open_kfid: The account.
            token: The callback's token, or '' (a catch-up pull without a callback).
        """
        account = self._accounts.setdefault(open_kfid, _Account())
        if token:
            account.token = token
        if account.waiting:
            return  # the waiting pull will read what this callback announced
        account.waiting = True
        task = asyncio.ensure_future(self._run(open_kfid, account))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Returns once no pull runs or waits."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def cancel(self) -> None:
        """Stops every pull (at shutdown): claimed messages stay for the next start."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self, open_kfid: str, account: _Account) -> None:
        async with account.lock:
            account.waiting = False
            try:
                await self._pull(open_kfid, account.token)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.error("wecom: a pull failed (%s: %s); the next callback pulls again",
                             type(error).__name__, error)
