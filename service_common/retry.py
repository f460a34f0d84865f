"""Retrying a call that may fail for a moment: a fixed number of attempts, doubling waits.

The one retry mechanism of the project's clients, built on tenacity. The caller decides
everything that is particular to its service: which errors (or answers) are worth another
attempt, how long to wait, how to sleep (a recorder in tests, so that no test really
waits) and what to log before each wait. When the attempts run out, the last error is
raised as it is (the caller's own typed exception), or the last answer is returned.

    answer = call_with_retries(
        lambda: client.fetch(path),
        RetrySchedule(attempts=3, first_delay_s=0.2),
        retry_on=lambda error: isinstance(error, Unavailable),
        on_retry=lambda failed: logger.warning("attempt %d of %d failed", failed.number, failed.attempts),
    )
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import tenacity

T = TypeVar("T")


@dataclass(frozen=True)
class RetrySchedule:
    """How many attempts a call gets and how long to wait between two of them.

    Attributes:
        attempts: Tries in all, the first included (1: no retry).
        first_delay_s: Wait before the first retry; doubled before each further one.
        max_delay_s: Longest single wait; None: no limit.

    Raises:
        ValueError: A value is out of range.
    """

    attempts: int
    first_delay_s: float
    max_delay_s: float | None = None

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        if self.first_delay_s < 0 or (self.max_delay_s is not None and self.max_delay_s < 0):
            raise ValueError("retry delays must not be negative")

    def delay(self, retry_number: int) -> float:
        """Seconds to wait before retry number ``retry_number`` (0 for the first)."""
        delay = self.first_delay_s * 2**retry_number
        return float(delay if self.max_delay_s is None else min(self.max_delay_s, delay))


@dataclass(frozen=True)
class FailedAttempt:
    """An attempt that failed and is followed by another one (what ``on_retry`` is told).

    Attributes:
        number: Which attempt failed, 1 for the first.
        attempts: Attempts in all (``RetrySchedule.attempts``).
        error: What the attempt raised; None when it was an answer ``retry_on_result`` refused.
        delay_s: Seconds waited now, before the next attempt.
    """

    number: int
    attempts: int
    error: BaseException | None
    delay_s: float


def call_with_retries(
    attempt: Callable[[], T],
    schedule: RetrySchedule,
    *,
    retry_on: Callable[[BaseException], bool],
    retry_on_result: Callable[[T], bool] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[FailedAttempt], None] | None = None,
) -> T:
    """Calls ``attempt`` until it succeeds, fails for good or the attempts run out.

    Args:
        attempt: One try of the call.
        schedule: How many tries, and the waits between them.
        retry_on: Whether an error is worth another try; any other error is raised at once.
        retry_on_result: Whether an answer is worth another try; None: every answer is final.
        sleep: How to wait (a recorder in tests).
        on_retry: Told of each failed try before the wait that follows it (to log it).

    Returns:
        The first answer that is not retried, or the last answer.

    Raises:
        BaseException: The first error that is not retried, or the last error.
    """
    retrying = tenacity.Retrying(
        sleep=lambda seconds: sleep(float(seconds)),
        **_policy(schedule, retry_on, retry_on_result, on_retry),
    )
    return retrying(attempt)


async def call_with_retries_async(
    attempt: Callable[[], Awaitable[T]],
    schedule: RetrySchedule,
    *,
    retry_on: Callable[[BaseException], bool],
    retry_on_result: Callable[[T], bool] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    on_retry: Callable[[FailedAttempt], None] | None = None,
) -> T:
    """:func:`call_with_retries` for a coroutine: ``attempt`` is awaited, and so is ``sleep``.

    Args:
        attempt: Returns the awaitable of one try of the call.
        schedule: How many tries, and the waits between them.
        retry_on: Whether an error is worth another try; any other error is raised at once.
        retry_on_result: Whether an answer is worth another try; None: every answer is final.
        sleep: How to wait (a recorder in tests).
        on_retry: Told of each failed try before the wait that follows it (to log it).

    Returns:
        The first answer that is not retried, or the last answer.

    Raises:
        BaseException: The first error that is not retried, or the last error.
    """

    async def wait(seconds: float) -> None:
        await sleep(float(seconds))

    retrying = tenacity.AsyncRetrying(sleep=wait, **_policy(schedule, retry_on, retry_on_result, on_retry))
    result: T = await retrying(attempt)
    return result


def _policy(
    schedule: RetrySchedule,
    retry_on: Callable[[BaseException], bool],
    retry_on_result: Callable[[Any], bool] | None,
    on_retry: Callable[[FailedAttempt], None] | None,
) -> dict[str, Any]:
    """tenacity's options for the schedule and the caller's decisions."""
    retry: tenacity.retry_base = tenacity.retry_if_exception(retry_on)
    if retry_on_result is not None:
        retry = retry | tenacity.retry_if_result(retry_on_result)

    def before_sleep(state: tenacity.RetryCallState) -> None:
        if on_retry is None or state.outcome is None or state.next_action is None:
            return
        outcome = state.outcome
        on_retry(
            FailedAttempt(
                number=state.attempt_number,
                attempts=schedule.attempts,
                error=outcome.exception() if outcome.failed else None,
                delay_s=float(state.next_action.sleep),
            )
        )

    return {
        "stop": tenacity.stop_after_attempt(schedule.attempts),
        "wait": lambda state: schedule.delay(state.attempt_number - 1),
        "retry": retry,
        "before_sleep": before_sleep,
        # Out of attempts: the last error as it is (not tenacity's RetryError), or the last answer.
        "retry_error_callback": lambda state: state.outcome.result(),
    }
