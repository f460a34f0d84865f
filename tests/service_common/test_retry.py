"""The retry helper: attempts, doubling waits, the caller's choice of what is retried."""

from __future__ import annotations

import pytest

from service_common.retry import (
    FailedAttempt,
    RetrySchedule,
    call_with_retries,
    call_with_retries_async,
)


class Flaky:
    """An attempt that raises the scripted errors in turn, then answers ``answer``."""

    def __init__(self, *errors: BaseException, answer: str = "ok") -> None:
        self.errors = list(errors)
        self.answer = answer
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.answer


class Answers:
    """An attempt that answers the scripted answers in turn."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return self.answers.pop(0)


def is_connection_error(error: BaseException) -> bool:
    return isinstance(error, ConnectionError)


# --------------------------------------------------------------------------------------
# The schedule
# --------------------------------------------------------------------------------------


def test_the_delay_doubles_from_the_first_one():
    schedule = RetrySchedule(attempts=5, first_delay_s=0.25)

    assert [schedule.delay(n) for n in range(4)] == [0.25, 0.5, 1.0, 2.0]


def test_the_delay_stops_growing_at_its_ceiling():
    schedule = RetrySchedule(attempts=6, first_delay_s=0.5, max_delay_s=3.0)

    assert [schedule.delay(n) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_a_delay_is_a_float_even_from_whole_seconds():
    delay = RetrySchedule(attempts=2, first_delay_s=1).delay(1)

    assert (delay, type(delay)) == (2.0, float)


@pytest.mark.parametrize(
    "options",
    [
        {"attempts": 0, "first_delay_s": 0.1},
        {"attempts": 3, "first_delay_s": -0.1},
        {"attempts": 3, "first_delay_s": 0.1, "max_delay_s": -1.0},
    ],
)
def test_bad_schedules_are_refused(options):
    with pytest.raises(ValueError):
        RetrySchedule(**options)


# --------------------------------------------------------------------------------------
# Calls
# --------------------------------------------------------------------------------------


def test_an_answer_at_the_first_attempt_is_returned_without_waiting():
    attempt = Flaky()
    sleeps: list[float] = []

    answer = call_with_retries(
        attempt, RetrySchedule(3, 0.2), retry_on=is_connection_error, sleep=sleeps.append
    )

    assert (answer, attempt.calls, sleeps) == ("ok", 1, [])


def test_a_retried_error_is_tried_again_after_doubling_waits():
    attempt = Flaky(ConnectionError("a"), ConnectionError("b"))
    sleeps: list[float] = []

    answer = call_with_retries(
        attempt, RetrySchedule(3, 0.2), retry_on=is_connection_error, sleep=sleeps.append
    )

    assert (answer, attempt.calls, sleeps) == ("ok", 3, [0.2, 0.4])


def test_the_last_error_itself_is_raised_when_the_attempts_run_out():
    last = ConnectionError("third")
    attempt = Flaky(ConnectionError("first"), ConnectionError("second"), last)
    sleeps: list[float] = []

    with pytest.raises(ConnectionError) as raised:
        call_with_retries(attempt, RetrySchedule(3, 0.1), retry_on=is_connection_error, sleep=sleeps.append)

    assert raised.value is last
    assert (attempt.calls, sleeps) == (3, [0.1, 0.2])


def test_an_error_that_is_not_retried_is_raised_at_once():
    refused = PermissionError("no")
    attempt = Flaky(refused)
    sleeps: list[float] = []

    with pytest.raises(PermissionError) as raised:
        call_with_retries(attempt, RetrySchedule(3, 0.1), retry_on=is_connection_error, sleep=sleeps.append)

    assert raised.value is refused
    assert (attempt.calls, sleeps) == (1, [])


def test_an_interrupt_is_not_retried_unless_the_caller_says_so():
    attempt = Flaky(KeyboardInterrupt())
    sleeps: list[float] = []

    with pytest.raises(KeyboardInterrupt):
        call_with_retries(attempt, RetrySchedule(3, 0.1), retry_on=is_connection_error, sleep=sleeps.append)

    assert (attempt.calls, sleeps) == (1, [])


def test_one_attempt_means_no_retry():
    attempt = Flaky(ConnectionError("down"))
    sleeps: list[float] = []

    with pytest.raises(ConnectionError):
        call_with_retries(attempt, RetrySchedule(1, 0.1), retry_on=is_connection_error, sleep=sleeps.append)

    assert (attempt.calls, sleeps) == (1, [])


def test_the_waits_stop_growing_at_the_schedules_ceiling():
    attempt = Flaky(*[ConnectionError("down")] * 5)
    sleeps: list[float] = []

    call_with_retries(
        attempt, RetrySchedule(6, 0.5, max_delay_s=1.5), retry_on=is_connection_error, sleep=sleeps.append
    )

    assert sleeps == [0.5, 1.0, 1.5, 1.5, 1.5]


def test_the_sleep_is_given_plain_floats():
    sleeps: list[float] = []

    call_with_retries(
        Flaky(ConnectionError("down")), RetrySchedule(2, 1), retry_on=is_connection_error, sleep=sleeps.append
    )

    assert [(delay, type(delay)) for delay in sleeps] == [(1.0, float)]


def test_each_failed_attempt_that_is_retried_is_told_before_its_wait():
    first, second = ConnectionError("first"), ConnectionError("second")
    events: list[object] = []

    with pytest.raises(ConnectionError):
        call_with_retries(
            Flaky(first, second, ConnectionError("third")),
            RetrySchedule(3, 0.3),
            retry_on=is_connection_error,
            sleep=lambda seconds: events.append(("sleep", seconds)),
            on_retry=events.append,
        )

    assert events == [
        FailedAttempt(number=1, attempts=3, error=first, delay_s=0.3),
        ("sleep", 0.3),
        FailedAttempt(number=2, attempts=3, error=second, delay_s=0.6),
        ("sleep", 0.6),
    ]


def test_an_answer_the_caller_refuses_is_tried_again():
    attempt = Answers("busy", "busy", "done")
    sleeps: list[float] = []
    told: list[FailedAttempt] = []

    answer = call_with_retries(
        attempt,
        RetrySchedule(4, 0.1),
        retry_on=is_connection_error,
        retry_on_result=lambda answer: answer == "busy",
        sleep=sleeps.append,
        on_retry=told.append,
    )

    assert (answer, attempt.calls, sleeps) == ("done", 3, [0.1, 0.2])
    assert told == [
        FailedAttempt(number=1, attempts=4, error=None, delay_s=0.1),
        FailedAttempt(number=2, attempts=4, error=None, delay_s=0.2),
    ]


def test_the_last_refused_answer_is_returned_when_the_attempts_run_out():
    attempt = Answers("busy 1", "busy 2")
    sleeps: list[float] = []

    answer = call_with_retries(
        attempt,
        RetrySchedule(2, 0.1),
        retry_on=is_connection_error,
        retry_on_result=lambda answer: answer.startswith("busy"),
        sleep=sleeps.append,
    )

    assert (answer, attempt.calls, sleeps) == ("busy 2", 2, [0.1])


# --------------------------------------------------------------------------------------
# Coroutines
# --------------------------------------------------------------------------------------


class AsyncFlaky(Flaky):
    async def run(self) -> str:
        return self()


class SleepRecorder:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


async def test_a_coroutine_is_retried_with_the_awaited_sleep():
    attempt, sleep = AsyncFlaky(ConnectionError("a"), ConnectionError("b")), SleepRecorder()
    told: list[FailedAttempt] = []

    answer = await call_with_retries_async(
        attempt.run, RetrySchedule(3, 0.25), retry_on=is_connection_error, sleep=sleep, on_retry=told.append
    )

    assert (answer, attempt.calls, sleep.delays) == ("ok", 3, [0.25, 0.5])
    assert [(failed.number, failed.attempts, str(failed.error)) for failed in told] == [(1, 3, "a"), (2, 3, "b")]


async def test_a_coroutine_raises_its_last_error_when_the_attempts_run_out():
    last = ConnectionError("second")
    attempt, sleep = AsyncFlaky(ConnectionError("first"), last), SleepRecorder()

    with pytest.raises(ConnectionError) as raised:
        await call_with_retries_async(attempt.run, RetrySchedule(2, 0.1), retry_on=is_connection_error, sleep=sleep)

    assert raised.value is last
    assert (attempt.calls, sleep.delays) == (2, [0.1])


async def test_a_coroutine_error_that_is_not_retried_is_raised_at_once():
    attempt, sleep = AsyncFlaky(PermissionError("no")), SleepRecorder()

    with pytest.raises(PermissionError):
        await call_with_retries_async(attempt.run, RetrySchedule(3, 0.1), retry_on=is_connection_error, sleep=sleep)

    assert (attempt.calls, sleep.delays) == (1, [])


async def test_a_coroutine_answer_the_caller_refuses_is_tried_again():
    answers = Answers("busy", "done")
    sleep = SleepRecorder()

    async def attempt() -> str:
        return answers()

    answer = await call_with_retries_async(
        attempt,
        RetrySchedule(3, 0.1),
        retry_on=is_connection_error,
        retry_on_result=lambda answer: answer == "busy",
        sleep=sleep,
    )

    assert (answer, answers.calls, sleep.delays) == ("done", 2, [0.1])
