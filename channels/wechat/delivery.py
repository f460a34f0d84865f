"""One bot turn per push, answered once: passively or through the customer-service API.

WeChat gives up on a push after 5 seconds and sends it again, up to three times. The
first copy starts the turn; every copy waits on that same turn, up to the reply window.
Whichever copy is still waiting when the turn ends replies passively (reply XML); if none
is, the answer goes out through the customer-service API, once.

The book itself lives in this process's memory. With several Rasa processes (Sanic
workers, replicas: `CHANNEL_STATE_REDIS_URL` set), WeChat's copies of one push may land on
different processes, so the book is given a shared map of claims: the first copy of a
push anywhere claims its dedupe key there (Redis `SET NX`) and runs the turn in its
process, with the logic above for the copies that reach that same process. A copy that
reaches a process that did not claim the push runs no turn and is answered `success`
(WeChat's documented empty reply): the claiming process delivers the answer, passively to
a copy of its own still waiting, else through the customer-service API. Without Redis
(the embedded default) there are no claims and the book alone decides, as with one
process. When Redis cannot be reached, a claim says yes: a copy on another process may
then run a second turn, but no message is lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Literal

from channels.common.ttl_cache import MAX_ENTRIES, TtlCache

if TYPE_CHECKING:
    from channels.common.shared_state import SharedMap

# WeChat's three retries span about 15 s; ten minutes is a wide margin.
DEDUPE_TTL_S = 600.0

DeliveryMode = Literal["passive", "push", "elsewhere"]


class Delivery:
    """One push's bot turn, and how its answer was delivered.

    Attributes:
        task: The turn; its result is the list of texts to send, or None when another
            process claimed the push (it runs the turn and delivers the answer).
        mode: None until decided, then `passive` (reply XML), `push` (customer-service
            API) or `elsewhere` (another process claimed the push).
    """

    def __init__(self, task: asyncio.Task[list[str] | None], push: Callable[[list[str]], None]) -> None:
        """Follows a started turn.

        Args:
            task: The running turn (None as its result: claimed by another process).
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
            catches it), it already went that way, or another process claimed the push.
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
        if self.task.done() and not self.task.cancelled() and self.mode in (None, "passive"):
            texts = self.task.result()
            if texts is None:
                self.mode = "elsewhere"
                return None
            self.mode = "passive"
            return texts
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
        texts = self.task.result()
        if texts is None:
            self.mode = "elsewhere"
            return
        self.mode = "push"
        self._push(texts)


class DeliveryBook:
    """At most one bot turn per push key, however WeChat's retries interleave.

    Finding and starting a turn happens without an `await` in between, so on one event
    loop no lock is needed. Across processes, the shared `claims` decide which process
    runs the turn: the started task claims the key first, and runs the turn only if the
    claim is this process's. Every copy reaching this process follows that one task.
    """

    def __init__(
        self,
        ttl_s: float = DEDUPE_TTL_S,
        max_entries: int = MAX_ENTRIES,
        claims: SharedMap | None = None,
    ) -> None:
        """Creates an empty book.

        Args:
            ttl_s: Seconds a push's delivery is remembered (WeChat's retries span ~15 s).
            max_entries: How many deliveries it keeps at most.
            claims: The pushes claimed by any process (`SharedState.map`, entries living
                at least `ttl_s`); None: this process is the only one.
        """
        self._deliveries: TtlCache[Delivery] = TtlCache(ttl_s, max_entries)
        self._claims = claims

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
            The delivery, and whether this call started it (the first copy to reach this
            process; with shared claims, the turn runs only if the claim was ours).
        """
        existing = self._deliveries.get(key)
        if existing is not None:
            return existing, False
        delivery = Delivery(asyncio.ensure_future(self._claimed_turn(key, turn)), push)
        self._deliveries.put(key, delivery)
        return delivery, True

    def find(self, key: str) -> Delivery | None:
        """The delivery of the push `key` in this process, or None."""
        return self._deliveries.get(key)

    async def _claimed_turn(
        self, key: str, turn: Callable[[], Coroutine[Any, Any, list[str]]]
    ) -> list[str] | None:
        """The turn's texts, or None without running it: another process claimed the push."""
        if self._claims is not None and not await self._claims.claim(key):
            return None
        return await turn()

    def __len__(self) -> int:
        return len(self._deliveries)
