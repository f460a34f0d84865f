import subprocess
import sys

import pytest
import rasa.core.actions.action as rasa_action

from rasa_server.turn_timeouts import (
    MAX_REMOTE_ACTIONS_PER_TURN,
    TurnTimeouts,
    TurnTimeoutsError,
    apply_turn_timeouts,
)
from tests.fixtures.servers import REPO_ROOT


def test_by_default_the_lock_lives_as_long_as_the_longest_turn() -> None:
    timeouts = TurnTimeouts.from_env({})

    assert timeouts == TurnTimeouts(20.0, 20 * MAX_REMOTE_ACTIONS_PER_TURN)
    assert timeouts.lock_lifetime_s >= timeouts.longest_turn_s


def test_a_shorter_action_timeout_shortens_the_default_lock() -> None:
    assert TurnTimeouts.from_env({"ACTION_CALL_TIMEOUT_S": "7.5"}) == TurnTimeouts(7.5, 30)


def test_a_lock_that_would_expire_mid_turn_is_refused() -> None:
    with pytest.raises(TurnTimeoutsError, match="TICKET_LOCK_LIFETIME=60 s is shorter than the longest turn"):
        TurnTimeouts.from_env({"TICKET_LOCK_LIFETIME": "60", "ACTION_CALL_TIMEOUT_S": "20"})


@pytest.mark.parametrize("value", ["soon", "0", "-3", "nan", "inf"])
def test_a_timeout_that_is_not_a_positive_number_is_refused(value: str) -> None:
    with pytest.raises(TurnTimeoutsError, match="ACTION_CALL_TIMEOUT_S"):
        TurnTimeouts.from_env({"ACTION_CALL_TIMEOUT_S": value})


def test_applying_sets_rasas_lock_lifetime_and_action_call_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rasa_action, "DEFAULT_REQUEST_TIMEOUT", rasa_action.DEFAULT_REQUEST_TIMEOUT)
    environ = {"ACTION_CALL_TIMEOUT_S": "10"}

    apply_turn_timeouts(environ)

    assert environ["TICKET_LOCK_LIFETIME"] == "40"
    assert rasa_action.DEFAULT_REQUEST_TIMEOUT == 10.0


@pytest.mark.slow  # starts Rasa
def test_the_server_does_not_start_with_a_lock_too_short_for_a_turn() -> None:
    started = subprocess.run(
        [sys.executable, "-m", "rasa_server", "run"],
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", "TICKET_LOCK_LIFETIME": "30", "ACTION_CALL_TIMEOUT_S": "20"},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert started.returncode == 2
    assert "TICKET_LOCK_LIFETIME=30 s is shorter than the longest turn" in started.stderr
