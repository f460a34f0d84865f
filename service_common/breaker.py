"""A circuit breaker: stop calling a service that keeps failing, so callers fail fast.

The one breaker of the project's clients (the action server shares one per service among
its worker threads). The caller asks :meth:`CircuitBreaker.allow` before a call and tells
the breaker how the call went; what counts as a failure is the caller's decision.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import ClassVar

logger = logging.getLogger(__name__)


class CircuitBreaker:
    """Stops calling a service that keeps failing, so callers fail fast instead of waiting.

    ``closed``: calls go through; ``failure_threshold`` consecutive failures open it.
    ``open``: calls are refused at once until ``cooldown_s`` has passed.
    ``half_open``: one trial call goes through (others are refused); its success closes
    the circuit, its failure opens it for another cool-down.

    Thread-safe: callers in several threads (the action server's workers) share one.

    Args:
        failure_threshold: Consecutive failures that open the circuit.
        cooldown_s: Seconds the circuit stays open before a trial call.
        clock: Monotonic clock, replaceable in tests.
    """

    CLOSED: ClassVar[str] = "closed"
    OPEN: ClassVar[str] = "open"
    HALF_OPEN: ClassVar[str] = "half_open"

    def __init__(
        self,
        failure_threshold: int = 5,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if cooldown_s <= 0:
            raise ValueError("cooldown_s must be positive")
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half_open`` (open whose cool-down has passed)."""
        with self._lock:
            return self._state_locked()

    def _state_locked(self) -> str:
        if self._opened_at is None:
            return self.CLOSED
        if self._clock() - self._opened_at >= self.cooldown_s:
            return self.HALF_OPEN
        return self.OPEN

    def allow(self) -> bool:
        """Whether a call may go out now; a True in ``half_open`` claims the one trial.

        Every True must be followed by :meth:`record_success`, :meth:`record_failure` or
        :meth:`release`.
        """
        with self._lock:
            state = self._state_locked()
            if state == self.CLOSED:
                return True
            if state == self.HALF_OPEN and not self._trial_in_flight:
                self._trial_in_flight = True
                return True
            return False

    def record_success(self) -> None:
        """The service answered: close the circuit and forget past failures."""
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial_in_flight = False

    def release(self) -> None:
        """A call that was allowed ended without telling anything about the service."""
        with self._lock:
            self._trial_in_flight = False

    def record_failure(self) -> None:
        """The service failed: count it, and open (or re-open) the circuit when due."""
        with self._lock:
            self._failures += 1
            if self._trial_in_flight or self._failures >= self.failure_threshold:
                if self._opened_at is None or self._trial_in_flight:
                    logger.warning(
                        "circuit opened after %d consecutive failures; calls fail fast for %.0f s",
                        self._failures,
                        self.cooldown_s,
                    )
                self._opened_at = self._clock()
            self._trial_in_flight = False
