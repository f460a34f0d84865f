"""The circuit breaker: closed, open, half open, from one thread or many."""

from __future__ import annotations

import logging
import threading

import pytest

from service_common.breaker import CircuitBreaker


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_n_consecutive_failures():
    breaker = CircuitBreaker(failure_threshold=3, cooldown_s=10, clock=FakeClock())

    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state == "closed"
    assert breaker.allow()
    breaker.record_failure()

    assert breaker.state == "open"
    assert not breaker.allow()


def test_a_success_resets_the_count_of_consecutive_failures():
    breaker = CircuitBreaker(failure_threshold=2, cooldown_s=10, clock=FakeClock())

    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()

    assert breaker.state == "closed"


def test_breaker_lets_one_trial_through_after_the_cooldown_and_closes_on_success():
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_s=10, clock=clock)
    breaker.record_failure()

    clock.now += 9.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.state == "half_open"
    assert breaker.allow()
    assert not breaker.allow()  # the trial is in flight: others still fail fast
    breaker.record_success()

    assert breaker.state == "closed"
    assert breaker.allow()


def test_a_failed_trial_opens_the_breaker_for_another_cooldown():
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, cooldown_s=10, clock=clock)
    for _ in range(3):
        breaker.record_failure()
    clock.now += 10
    assert breaker.allow()

    breaker.record_failure()

    assert breaker.state == "open"
    clock.now += 9
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()


def test_breaker_counts_failures_from_many_threads_exactly():
    breaker = CircuitBreaker(failure_threshold=1000, cooldown_s=10, clock=FakeClock())

    def fail_many() -> None:
        for _ in range(100):
            breaker.record_failure()

    threads = [threading.Thread(target=fail_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert breaker._failures == 800
    assert breaker.state == "closed"


def test_only_one_of_many_threads_gets_the_half_open_trial():
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_s=1, clock=clock)
    breaker.record_failure()
    clock.now += 1
    allowed: list[bool] = []
    barrier = threading.Barrier(8)

    def try_call() -> None:
        barrier.wait()
        allowed.append(breaker.allow())

    threads = [threading.Thread(target=try_call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(allowed) == [False] * 7 + [True]


def test_a_released_trial_lets_the_next_call_be_the_trial():
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_s=5, clock=clock)
    breaker.record_failure()
    clock.now += 5

    assert breaker.allow()
    breaker.release()

    assert breaker.state == "half_open"
    assert breaker.allow()
    assert not breaker.allow()


def test_a_release_when_closed_changes_nothing():
    breaker = CircuitBreaker(failure_threshold=2, cooldown_s=5, clock=FakeClock())
    breaker.record_failure()
    breaker.release()
    breaker.record_failure()

    assert breaker.state == "open"


def test_opening_is_logged_once_with_the_failures_and_the_cooldown(caplog):
    caplog.set_level(logging.WARNING, logger="service_common.breaker")
    breaker = CircuitBreaker(failure_threshold=2, cooldown_s=30, clock=FakeClock())

    for _ in range(4):
        breaker.record_failure()

    assert [record.getMessage() for record in caplog.records] == [
        "circuit opened after 2 consecutive failures; calls fail fast for 30 s"
    ]


def test_the_defaults_are_five_failures_and_thirty_seconds():
    breaker = CircuitBreaker()

    assert (breaker.failure_threshold, breaker.cooldown_s, breaker.state) == (5, 30.0, "closed")


@pytest.mark.parametrize("options", [{"failure_threshold": 0}, {"cooldown_s": 0}, {"cooldown_s": -1}])
def test_bad_breaker_options_are_refused(options):
    with pytest.raises(ValueError):
        CircuitBreaker(**options)
