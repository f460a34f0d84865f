"""Rasa's conversation lock outlives every turn: the action-call timeout and the lock agree.

Rasa holds a conversation's lock while it handles one message, and the lock expires after
`TICKET_LOCK_LIFETIME` seconds (Rasa's default: 60). Rasa waits for each call to the action
server for up to five minutes by default, so a slow order system could keep a turn
running after its lock expired, and the shopper's next message would then run beside it,
on a tracker that is about to be overwritten. Here each action call is limited to
`ACTION_CALL_TIMEOUT_S` and the lock lives for at least the longest turn this dialogue
has: `MAX_REMOTE_ACTIONS_PER_TURN` such calls. A lifetime set too short for that stops
the server at start.
"""

from __future__ import annotations

import math
import os
from collections.abc import MutableMapping
from dataclasses import dataclass

ACTION_CALL_TIMEOUT_VARIABLE = "ACTION_CALL_TIMEOUT_S"
LOCK_LIFETIME_VARIABLE = "TICKET_LOCK_LIFETIME"  # Rasa's own name
DEFAULT_ACTION_CALL_TIMEOUT_S = 20.0
# The most custom-action calls one shopper message causes here: a form's validation, its
# next question, the action after the form, and one follow-up. The acceptance and
# conversation tests check every turn they play against it.
MAX_REMOTE_ACTIONS_PER_TURN = 4


class TurnTimeoutsError(ValueError):
    """The timeouts are not numbers, or the lock would expire before a turn can end."""


@dataclass(frozen=True)
class TurnTimeouts:
    """How long Rasa waits for one action call, and how long a conversation's lock lives.

    Attributes:
        action_call_timeout_s: Seconds Rasa waits for one action-server answer.
        lock_lifetime_s: Seconds a conversation's lock lives.
    """

    action_call_timeout_s: float
    lock_lifetime_s: int

    @property
    def longest_turn_s(self) -> float:
        return MAX_REMOTE_ACTIONS_PER_TURN * self.action_call_timeout_s

    @classmethod
    def from_env(cls, environ: MutableMapping[str, str]) -> TurnTimeouts:
        """Reads both settings; the lock's lifetime defaults to the longest turn.

        Raises:
            TurnTimeoutsError: A value is not a positive number, or the lock's lifetime is
                shorter than the longest turn.
        """
        timeout = _positive(environ, ACTION_CALL_TIMEOUT_VARIABLE, DEFAULT_ACTION_CALL_TIMEOUT_S)
        longest_turn = MAX_REMOTE_ACTIONS_PER_TURN * timeout
        lifetime = _positive(environ, LOCK_LIFETIME_VARIABLE, float(math.ceil(longest_turn)))
        if lifetime < longest_turn:
            raise TurnTimeoutsError(
                f"{LOCK_LIFETIME_VARIABLE}={lifetime:g} s is shorter than the longest turn: "
                f"{MAX_REMOTE_ACTIONS_PER_TURN} action calls of up to {timeout:g} s "
                f"({ACTION_CALL_TIMEOUT_VARIABLE}); raise it to {math.ceil(longest_turn)} or more"
            )
        return cls(timeout, math.ceil(lifetime))


def apply_turn_timeouts(environ: MutableMapping[str, str] | None = None) -> TurnTimeouts:
    """Sets both in the environment Rasa reads, before Rasa's modules are imported.

    Raises:
        TurnTimeoutsError: See `TurnTimeouts.from_env`.
    """
    environ = os.environ if environ is None else environ
    timeouts = TurnTimeouts.from_env(environ)
    environ[LOCK_LIFETIME_VARIABLE] = str(timeouts.lock_lifetime_s)
    import rasa.core.actions.action as rasa_action

    # RemoteAction.run reads this module global at each call.
    rasa_action.DEFAULT_REQUEST_TIMEOUT = timeouts.action_call_timeout_s
    return timeouts


def _positive(environ: MutableMapping[str, str], name: str, default: float) -> float:
    raw = (environ.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise TurnTimeoutsError(f"{name} must be a number of seconds, not {raw!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise TurnTimeoutsError(f"{name} must be a positive number of seconds, not {raw!r}")
    return value
