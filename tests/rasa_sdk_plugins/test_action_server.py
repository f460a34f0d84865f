"""The action server as Rasa meets it: started for real, with the project's plugin."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.fixtures.servers import REPO_ROOT, RunningService, free_port, start_service

TOKEN = "test-action-server-token"


@pytest.fixture(scope="module")
def action_server(service_tmp: Path) -> Iterator[RunningService]:
    port = free_port()
    service = start_service(
        "rasa_sdk",
        ["--actions", "bot.actions", "--port", str(port)],
        {
            "ACTION_SERVER_TOKEN": TOKEN,
            "SANIC_HOST": "127.0.0.1",
            "ORDERS_URL": "http://127.0.0.1:9",
            "ORDERS_TOKEN": "unused",
            "RECORDS_SERVICE_URL": "http://127.0.0.1:9",
            "RECORDS_TOKEN": "unused",
            "ACTION_OUTBOX_DATABASE_URL": f"sqlite:///{service_tmp / 'action_outbox.db'}",
        },
        port,
        service_tmp / "action_server.log",
        TOKEN,
        timeout_s=120,
    )
    yield service
    service.stop()


def _call(server: RunningService, body: object, token: str | None) -> requests.Response:
    headers = {"X-Action-Token": token} if token is not None else {}
    return requests.post(f"{server.url}/webhook", json=body, headers=headers, timeout=10)


def test_health_is_open(action_server: RunningService) -> None:
    assert requests.get(f"{action_server.url}/health", timeout=5).json() == {"status": "ok"}


def test_the_outbox_backlog_is_served_openly(action_server: RunningService) -> None:
    response = requests.get(f"{action_server.url}/health/outbox", timeout=5)

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "pending": 0, "rejected": 0, "oldest_pending_s": None}


@pytest.mark.parametrize("token", [None, "", "wrong-token", TOKEN + "x"])
def test_calls_without_the_shared_secret_are_refused(action_server: RunningService, token: str | None) -> None:
    response = _call(action_server, {"next_action": "action_listen"}, token)
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}


def test_action_list_needs_the_secret_too(action_server: RunningService) -> None:
    assert requests.get(f"{action_server.url}/actions", timeout=5).status_code == 401
    listed = requests.get(f"{action_server.url}/actions", headers={"X-Action-Token": TOKEN}, timeout=5)
    assert listed.status_code == 200


def test_errors_do_not_echo_the_tracker(action_server: RunningService) -> None:
    # A tracker with personal data whose events the action cannot read: rasa-sdk's stock
    # handler would answer the error with {"request_body": <this body>}.
    body = {
        "next_action": "action_handoff",
        "sender_id": "shopper-1",
        "tracker": {"sender_id": "shopper-1", "slots": {"contact_phone": "13800138000"}, "events": 42},
        "domain": None,
        "version": "3.6.21",
    }
    response = _call(action_server, body, TOKEN)
    assert response.status_code >= 400
    assert "13800138000" not in response.text
    assert "request_body" not in response.text
    assert "Traceback" not in response.text


def test_malformed_json_gets_a_plain_error(action_server: RunningService) -> None:
    response = requests.post(
        f"{action_server.url}/webhook",
        data=b"{not json 13800138000",
        headers={"X-Action-Token": TOKEN, "Content-Type": "application/json"},
        timeout=10,
    )
    assert 400 <= response.status_code < 600
    assert "13800138000" not in response.text


def test_a_missing_secret_stops_the_server_at_start(service_tmp: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ACTION_SERVER_TOKEN"}
    result = subprocess.run(
        [sys.executable, "-m", "rasa_sdk", "--actions", "bot.actions", "--port", str(free_port())],
        cwd=REPO_ROOT,
        env={**env, "SANIC_HOST": "127.0.0.1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "ACTION_SERVER_TOKEN is not set" in result.stdout + result.stderr


def test_an_outbox_database_that_cannot_be_opened_stops_the_server_at_start(service_tmp: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rasa_sdk", "--actions", "bot.actions", "--port", str(free_port())],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "SANIC_HOST": "127.0.0.1",
            "ACTION_SERVER_TOKEN": TOKEN,
            "ORDERS_TOKEN": "unused",
            "RECORDS_TOKEN": "unused",
            "ACTION_OUTBOX_DATABASE_URL": f"postgresql+psycopg2://postgres@127.0.0.1:{free_port()}/none",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 2
    assert "action server:" in result.stderr and "OperationalError" in result.stderr + result.stdout
