"""What the channel remembers about each call while it lasts.

Per call id: the caller's number (fixed by the first turn), the answered turns (so a
retried turn gets the same answer without a second bot turn), the transcript waiting
for confirmation, the options read out last, the last speech (for `*`, repeat) and
whether the call is over. Entries expire an hour after the call's last turn.

The memory is in the channels' shared state (`channels.common.shared_state`), as JSON
(`call_to_json`, `call_from_json`): this process's memory by default, Redis with
`CHANNEL_STATE_REDIS_URL`, so that any Rasa process can answer any turn of any call.
A call's turns run one after another wherever they land: each holds the call's lock (an
`asyncio.Lock` among this process's turns, and with Redis a claim in the shared state
among the processes) from reading the call's memory to writing it back with the answer.

Limits: a process that stops in the middle of a turn leaves the call's lock taken until
it expires (`CALL_LOCK_TTL_S`), and the turn unanswered (a retry runs it again; Rasa's
message id is the same, the dialogue may not be). Without Redis a restart forgets every
call. When Redis cannot be reached, every turn reads an empty memory (a call starts over)
and takes the lock at once: the caller is still answered.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast, get_args

from channels.common.shared_state import SharedState
from channels.ivr.inbound import Heard, HeardKind, Pending
from channels.ivr.render import Option

logger = logging.getLogger(__name__)

CALL_TTL_S = 3600.0
MAX_CALLS = 10_000
# Answers kept per call for retries; an older turn retried is refused as out of order.
MAX_TURNS_KEPT = 50
# The channel's maps in the shared state.
CALLS_NAMESPACE = "ivr:calls"
CALL_LOCKS_NAMESPACE = "ivr:call_locks"
# A turn holds its call's lock at most this long: beyond Rasa's longest turn (four action
# calls of 20 s, rasa_server/turn_timeouts.py) and the ticket read after it. A process
# that stopped mid-turn frees the call after this.
CALL_LOCK_TTL_S = 120.0
# How often a turn waiting for another process's turn of the same call tries the lock.
LOCK_RETRY_S = 0.05


@dataclass
class AnsweredTurn:
    """An answered turn: what it carried (its fingerprint), and its answer."""

    fingerprint: str
    answer: dict[str, Any]


@dataclass
class Call:
    """One call's state.

    Attributes:
        caller: The caller's number in national form, None when withheld.
        turns: Turn id -> its answer, oldest first.
        last_turn_id: The highest turn id answered.
        pending: The transcript waiting for confirmation.
        options: The options read out last.
        last_speech: What the caller heard last.
        ended: Whether the call is over (hung up by either side).
    """

    caller: str | None
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


def call_to_json(call: Call) -> dict[str, Any]:
    """The call's state as a JSON object (turns as a list, oldest first)."""
    pending = call.pending
    return {
        "caller": call.caller,
        "turns": [[turn_id, turn.fingerprint, turn.answer] for turn_id, turn in call.turns.items()],
        "last_turn_id": call.last_turn_id,
        "pending": None if pending is None else {
            "transcript": pending.transcript,
            "heard": {"kind": pending.heard.kind, "digits": pending.heard.digits},
            "confidence": pending.confidence,
        },
        "options": [{"title": option.title, "payload": option.payload} for option in call.options],
        "last_speech": call.last_speech,
        "ended": call.ended,
    }


def call_from_json(data: Any) -> Call:
    """The call's state from `call_to_json`'s object.

    Raises:
        ValueError: `data` is not such an object.
    """
    try:
        caller = data["caller"]
        turns: OrderedDict[int, AnsweredTurn] = OrderedDict()
        for turn_id, fingerprint, answer in data["turns"]:
            turns[_int(turn_id)] = AnsweredTurn(_str(fingerprint), _object(answer))
        call = Call(
            caller=None if caller is None else _str(caller),
            turns=turns,
            last_turn_id=_int(data["last_turn_id"]),
            pending=_pending(data["pending"]),
            options=[Option(_str(option["title"]), _str(option["payload"])) for option in data["options"]],
            last_speech=_str(data["last_speech"]),
            ended=_bool(data["ended"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"not a call's state ({type(error).__name__}: {error})") from None
    return call


def _pending(data: Any) -> Pending | None:
    if data is None:
        return None
    kind = _str(data["heard"]["kind"])
    if kind not in get_args(HeardKind):
        raise ValueError(f"unknown kind of digits heard {kind!r}")
    confidence = data["confidence"]
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)):
        raise TypeError("confidence is not a number")
    heard = Heard(cast(HeardKind, kind), _str(data["heard"]["digits"]))
    return Pending(_str(data["transcript"]), heard, float(confidence))


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{type(value).__name__} where a string belongs")
    return value


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{type(value).__name__} where an integer belongs")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{type(value).__name__} where true or false belongs")
    return value


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{type(value).__name__} where an object belongs")
    return dict(value)


class CallBook:
    """The calls in progress, each kept for `ttl_s` after its latest turn, in the shared state."""

    def __init__(
        self,
        state: SharedState | None = None,
        ttl_s: float = CALL_TTL_S,
        max_calls: int = MAX_CALLS,
    ) -> None:
        """Creates the book.

        Args:
            state: Where the calls are kept (default: this process's memory).
            ttl_s: Seconds a call is kept after its latest turn.
            max_calls: How many calls this process's memory keeps at most (Redis: no limit
                but the TTL).
        """
        state = state if state is not None else SharedState()
        self._calls = state.map(CALLS_NAMESPACE, ttl_s, max_calls)
        # Among processes only: within this one, `_local_locks` already orders the turns.
        self._shared_locks = state.map(CALL_LOCKS_NAMESPACE, CALL_LOCK_TTL_S) if state.shared else None
        self._local_locks: dict[str, tuple[asyncio.Lock, int]] = {}

    async def get(self, call_id: str) -> Call | None:
        """The call's state, or None for a call not seen (or expired, or unreadable)."""
        data = await self._calls.get(call_id)
        if data is None:
            return None
        try:
            return call_from_json(data)
        except ValueError as error:
            logger.error("ivr: the memory of call %s is unreadable; the call starts over (%s)",
                         call_id, error)
            return None

    async def start(self, call_id: str, caller: str | None) -> Call:
        """A new call's state, stored."""
        call = Call(caller)
        await self.touch(call_id, call)
        return call

    async def touch(self, call_id: str, call: Call) -> None:
        """Stores the call's state, kept for another TTL from now."""
        await self._calls.put(call_id, call_to_json(call))

    @asynccontextmanager
    async def locked(self, call_id: str) -> AsyncIterator[None]:
        """Holds the call's lock: one turn of a call at a time, in any process.

        Not reentrant. The turns of one process get the lock in the order they asked.
        """
        lock, users = self._local_locks.get(call_id) or (asyncio.Lock(), 0)
        self._local_locks[call_id] = (lock, users + 1)
        try:
            async with lock:
                await self._take_shared(call_id)
                try:
                    yield
                finally:
                    if self._shared_locks is not None:
                        await self._shared_locks.pop(call_id)
        finally:
            lock, users = self._local_locks[call_id]
            if users == 1:
                del self._local_locks[call_id]
            else:
                self._local_locks[call_id] = (lock, users - 1)

    async def _take_shared(self, call_id: str) -> None:
        """Waits until this process's claim of the call's lock wins (at most its TTL)."""
        if self._shared_locks is None:
            return
        while not await self._shared_locks.claim(call_id):
            await asyncio.sleep(LOCK_RETRY_S)
