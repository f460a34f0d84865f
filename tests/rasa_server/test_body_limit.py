import subprocess
import sys
import uuid

import pytest
import requests

from rasa_server.body_limit import (
    DEFAULT_MAX_BODY_BYTES,
    BodyLimitError,
    apply_body_limit,
)
from tests.fixtures.servers import REPO_ROOT
from tests.fixtures.stack import Stack


def test_the_default_limit_is_set_for_sanic() -> None:
    environ: dict[str, str] = {}

    assert apply_body_limit(environ) == DEFAULT_MAX_BODY_BYTES
    assert environ == {"SANIC_REQUEST_MAX_SIZE": str(64 * 1024)}


def test_a_configured_limit_wins() -> None:
    environ = {"RASA_MAX_BODY_BYTES": "4096"}

    assert apply_body_limit(environ) == 4096
    assert environ["SANIC_REQUEST_MAX_SIZE"] == "4096"


@pytest.mark.parametrize("value", ["big", "0", "-1", "1.5"])
def test_a_limit_that_is_not_a_positive_whole_number_is_refused(value: str) -> None:
    with pytest.raises(BodyLimitError, match="RASA_MAX_BODY_BYTES"):
        apply_body_limit({"RASA_MAX_BODY_BYTES": value})


@pytest.mark.slow  # starts Rasa
def test_the_server_does_not_start_with_a_limit_that_is_not_a_number() -> None:
    started = subprocess.run(
        [sys.executable, "-m", "rasa_server", "run"],
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", "RASA_MAX_BODY_BYTES": "a lot"},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert started.returncode == 2
    assert "RASA_MAX_BODY_BYTES must be a number of bytes, not 'a lot'" in started.stderr


def test_a_megabyte_message_is_refused_and_never_reaches_the_tracker(running_stack: Stack) -> None:
    bot_url, token = running_stack.env["BOT_URL"], running_stack.env["BOT_TOKEN"]
    sender = f"big-{uuid.uuid4().hex[:8]}"

    refused = requests.post(
        f"{bot_url}/webhooks/rest/webhook", json={"sender": sender, "message": "退" * 350_000}, timeout=30
    )
    answered = requests.post(
        f"{bot_url}/webhooks/rest/webhook", json={"sender": sender, "message": "你好"}, timeout=30
    )

    assert refused.status_code == 413
    assert answered.status_code == 200 and answered.json()
    tracker = requests.get(f"{bot_url}/conversations/{sender}/tracker", params={"token": token}, timeout=30)
    assert [e["text"] for e in tracker.json()["events"] if e["event"] == "user"] == ["你好"]
