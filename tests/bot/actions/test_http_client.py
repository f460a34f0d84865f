"""The shared HTTP plumbing: timeouts, retries, typed errors, circuit breaker.

Misbehaving services (silent, failing, answering garbage) are real local servers on
127.0.0.1 that count what reaches them; the order system itself is exercised in
test_order_client.py.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.actions.http_client import (
    CircuitOpenError,
    JsonApiClient,
    NotFoundError,
    RequestRejectedError,
    RetryPolicy,
    ServiceUnavailableError,
)
from bot.actions.order_client import OrderClient, OrderNotFoundError
from bot.actions.services import Services
from bot.actions.settings import ActionSettings, ServiceSettings
from service_common.breaker import CircuitBreaker
from service_common.env import MissingSettingError
from tests.fixtures.servers import free_port

Reply = tuple[int, str, bytes]


def json_reply(status: int, body: object) -> Reply:
    return status, "application/json", json.dumps(body).encode()


def error_reply(status: int, code: str, message: str) -> Reply:
    return json_reply(status, {"error": {"code": code, "message": message}})


@dataclass
class ScriptedServer:
    """A real HTTP server whose answers a test chooses; it records every request."""

    url: str
    requests: list[dict[str, str]] = field(default_factory=list)
    reply: Callable[[str, str], Reply] = lambda method, path: json_reply(200, {})


@pytest.fixture
def scripted_server() -> Iterator[ScriptedServer]:
    server_state = ScriptedServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            server_state.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "authorization": self.headers.get("Authorization", ""),
                    "idempotency_key": self.headers.get("Idempotency-Key", ""),
                    "body": body,
                }
            )
            status, content_type, payload = server_state.reply(self.command, self.path)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _answer
        do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield server_state
    server.shutdown()
    server.server_close()


@dataclass
class SilentServer:
    """Accepts TCP connections and never answers."""

    url: str
    connections: list[socket.socket]


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.1)
    state = SilentServer(f"http://127.0.0.1:{listener.getsockname()[1]}", [])
    stopping = threading.Event()

    def accept_forever() -> None:
        while not stopping.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            state.connections.append(connection)

    thread = threading.Thread(target=accept_forever, daemon=True)
    thread.start()
    yield state
    stopping.set()
    thread.join(timeout=2)
    for connection in state.connections:
        connection.close()
    listener.close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class SleepRecorder:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class ExampleClient(JsonApiClient):
    service_name = "example service"

    def fetch(self, path: str) -> object:
        return self._get(path, operation="fetch")

    def send(self, body: dict[str, object], key: str | None = None) -> object:
        return self._post("/things", body, operation="send", idempotency_key=key)


def example_client(url: str, **options: object) -> tuple[ExampleClient, SleepRecorder]:
    sleep = SleepRecorder()
    client = ExampleClient(
        url,
        "secret-token",
        connect_timeout_s=1.0,
        read_timeout_s=options.pop("read_timeout_s", 2.0),  # type: ignore[arg-type]
        retry=options.pop("retry", RetryPolicy(max_retries=2, backoff_s=0.2)),  # type: ignore[arg-type]
        breaker=options.pop("breaker", CircuitBreaker(failure_threshold=5, cooldown_s=30)),  # type: ignore[arg-type]
        sleep=sleep,
    )
    assert not options
    return client, sleep


# --------------------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------------------


def test_a_json_answer_is_decoded_and_the_token_and_timeouts_are_sent(scripted_server):
    scripted_server.reply = lambda method, path: json_reply(200, {"value": 42})
    client, _ = example_client(scripted_server.url)

    assert client.fetch("/things/1") == {"value": 42}
    assert client.timeout == (1.0, 2.0)
    assert scripted_server.requests[0]["authorization"] == "Bearer secret-token"
    assert scripted_server.requests[0]["path"] == "/things/1"


def test_404_is_not_found_with_the_service_code_and_is_not_retried(scripted_server):
    scripted_server.reply = lambda method, path: error_reply(404, "thing_not_found", "no such thing")
    client, sleep = example_client(scripted_server.url)

    with pytest.raises(NotFoundError) as raised:
        client.fetch("/things/1")

    assert raised.value.code == "thing_not_found"
    assert str(raised.value) == "example service fetch: not found (thing_not_found)"
    assert len(scripted_server.requests) == 1
    assert sleep.delays == []


def test_other_4xx_is_rejected_with_status_code_and_message_and_is_not_retried(scripted_server):
    scripted_server.reply = lambda method, path: error_reply(409, "return_exists", "already returned")
    client, sleep = example_client(scripted_server.url)

    with pytest.raises(RequestRejectedError) as raised:
        client.send({"a": 1}, key="key-1")

    assert (raised.value.status, raised.value.code, raised.value.message) == (
        409,
        "return_exists",
        "already returned",
    )
    assert len(scripted_server.requests) == 1
    assert sleep.delays == []


def test_a_4xx_without_a_json_error_gets_a_code_from_its_status(scripted_server):
    scripted_server.reply = lambda method, path: (403, "text/html", b"<h1>Forbidden</h1>")
    client, _ = example_client(scripted_server.url)

    with pytest.raises(RequestRejectedError) as raised:
        client.fetch("/things/1")

    assert (raised.value.status, raised.value.code, raised.value.message) == (403, "http_403", "")


def test_personal_data_in_a_service_message_is_masked_and_the_query_is_never_shown(scripted_server):
    scripted_server.reply = lambda method, path: error_reply(
        422, "invalid_account_id", "account 13800138000 is not valid"
    )
    client, _ = example_client(scripted_server.url)

    with pytest.raises(RequestRejectedError) as raised:
        client._get("/lookup", operation="lookup", params={"phone": "13800138000"})

    assert raised.value.message == "account 138****8000 is not valid"
    assert "13800138000" not in str(raised.value)
    assert "phone" not in str(raised.value)
    # ...while the request itself did carry it.
    assert scripted_server.requests[0]["path"] == "/lookup?phone=13800138000"


def test_a_2xx_answer_that_is_not_json_is_service_unavailable(scripted_server):
    scripted_server.reply = lambda method, path: (200, "text/html", b"<html>captive portal</html>")
    client, _ = example_client(scripted_server.url, retry=RetryPolicy(max_retries=0))

    with pytest.raises(ServiceUnavailableError) as raised:
        client.fetch("/things/1")

    assert str(raised.value) == "example service fetch: answer is not JSON"


def test_a_malformed_order_is_service_unavailable_not_a_key_error(scripted_server):
    scripted_server.reply = lambda method, path: json_reply(200, {"order_id": "8800001001", "status": 3})
    client = OrderClient(scripted_server.url, "t", retry=RetryPolicy(max_retries=0))

    with pytest.raises(ServiceUnavailableError) as raised:
        client.get_order("8800001001")

    assert str(raised.value) == "order system get_order: malformed answer"


def test_an_order_list_that_is_not_a_list_is_service_unavailable(scripted_server):
    scripted_server.reply = lambda method, path: json_reply(200, {"refunds": {"refund_id": "RF1"}})
    client = OrderClient(scripted_server.url, "t", retry=RetryPolicy(max_retries=0))

    with pytest.raises(ServiceUnavailableError):
        client.list_refunds("8800001001")


def test_an_order_time_without_offset_is_service_unavailable(scripted_server):
    shipment = {
        "carrier": "顺丰速运",
        "tracking_number": "SF1",
        "status": "in_transit",
        "shipped_at": "2024-05-01T10:00:00",
        "delivered_at": None,
        "estimated_delivery": None,
    }
    scripted_server.reply = lambda method, path: json_reply(200, {"shipment": shipment})
    client = OrderClient(scripted_server.url, "t", retry=RetryPolicy(max_retries=0))

    with pytest.raises(ServiceUnavailableError):
        client.get_shipment("8800001007")


# --------------------------------------------------------------------------------------
# Retries
# --------------------------------------------------------------------------------------


def test_a_get_is_retried_with_exponential_backoff_then_fails(scripted_server):
    scripted_server.reply = lambda method, path: error_reply(503, "database_unavailable", "down")
    client, sleep = example_client(scripted_server.url)

    with pytest.raises(ServiceUnavailableError) as raised:
        client.fetch("/things/1")

    assert len(scripted_server.requests) == 3
    assert sleep.delays == [0.2, 0.4]
    assert str(raised.value) == "example service fetch: HTTP 503 (database_unavailable)"


def test_a_get_succeeds_when_a_retry_succeeds(scripted_server):
    answers = [error_reply(502, "bad_gateway", "x"), json_reply(200, {"ok": True})]
    scripted_server.reply = lambda method, path: answers.pop(0)
    client, sleep = example_client(scripted_server.url)

    assert client.fetch("/things/1") == {"ok": True}
    assert len(scripted_server.requests) == 2
    assert sleep.delays == [0.2]


def test_a_post_without_idempotency_key_is_never_retried(scripted_server):
    scripted_server.reply = lambda method, path: error_reply(503, "database_unavailable", "down")
    client, sleep = example_client(scripted_server.url)

    with pytest.raises(ServiceUnavailableError):
        client.send({"a": 1})

    assert [r["method"] for r in scripted_server.requests] == ["POST"]
    assert sleep.delays == []


def test_a_post_with_idempotency_key_is_retried_with_the_same_key_and_body(scripted_server):
    scripted_server.reply = lambda method, path: error_reply(500, "internal_error", "oops")
    client, sleep = example_client(scripted_server.url)

    with pytest.raises(ServiceUnavailableError):
        client.send({"a": 1}, key="conv-1:return:8800001001")

    assert [(r["idempotency_key"], r["body"]) for r in scripted_server.requests] == [
        ("conv-1:return:8800001001", '{"a": 1}')
    ] * 3
    assert sleep.delays == [0.2, 0.4]


def test_an_empty_idempotency_key_is_a_programming_error(scripted_server):
    client, _ = example_client(scripted_server.url)

    with pytest.raises(ValueError):
        client.send({"a": 1}, key="")
    assert scripted_server.requests == []


def test_backoff_doubles_up_to_its_ceiling():
    policy = RetryPolicy(max_retries=5, backoff_s=0.5, max_backoff_s=3.0)

    assert [policy.delay(n) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


# --------------------------------------------------------------------------------------
# Down and slow services
# --------------------------------------------------------------------------------------


def test_a_service_that_never_answers_times_out_quickly(silent_server):
    client = OrderClient(
        silent_server.url, "t", connect_timeout_s=0.5, read_timeout_s=0.3, retry=RetryPolicy(max_retries=0)
    )

    started = time.monotonic()
    with pytest.raises(ServiceUnavailableError) as raised:
        client.get_order("8800001001")
    elapsed = time.monotonic() - started

    assert str(raised.value) == "order system get_order: timed out"
    assert 0.3 <= elapsed < 1.5


def test_a_slow_get_is_retried_within_its_timeouts(silent_server):
    client = OrderClient(
        silent_server.url,
        "t",
        read_timeout_s=0.2,
        retry=RetryPolicy(max_retries=2, backoff_s=0.01),
    )

    started = time.monotonic()
    with pytest.raises(ServiceUnavailableError):
        client.list_refunds("8800001001")
    elapsed = time.monotonic() - started

    assert len(silent_server.connections) == 3
    assert elapsed < 2.0


def test_a_refused_connection_is_service_unavailable():
    client, sleep = example_client(f"http://127.0.0.1:{free_port()}")

    with pytest.raises(ServiceUnavailableError) as raised:
        client.fetch("/things/1")

    assert str(raised.value) == "example service fetch: could not connect"
    assert sleep.delays == [0.2, 0.4]


# --------------------------------------------------------------------------------------
# Circuit breaker
# --------------------------------------------------------------------------------------


def test_an_open_circuit_fails_fast_without_a_network_call(scripted_server):
    scripted_server.reply = lambda method, path: error_reply(503, "database_unavailable", "down")
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=2, cooldown_s=30, clock=clock)
    client, _ = example_client(scripted_server.url, breaker=breaker)

    for _ in range(2):
        with pytest.raises(ServiceUnavailableError):
            client.fetch("/things/1")
    calls_before = len(scripted_server.requests)
    started = time.monotonic()
    with pytest.raises(CircuitOpenError) as raised:
        client.fetch("/things/1")

    assert calls_before == 6  # two calls of three attempts each
    assert len(scripted_server.requests) == 6
    assert time.monotonic() - started < 0.05
    assert isinstance(raised.value, ServiceUnavailableError)
    assert str(raised.value) == "example service fetch: circuit open after repeated failures"


def test_the_circuit_closes_again_when_the_service_recovers(scripted_server):
    scripted_server.reply = lambda method, path: error_reply(503, "database_unavailable", "down")
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_s=30, clock=clock)
    client, _ = example_client(scripted_server.url, breaker=breaker, retry=RetryPolicy(max_retries=0))
    with pytest.raises(ServiceUnavailableError):
        client.fetch("/things/1")
    assert breaker.state == "open"

    scripted_server.reply = lambda method, path: json_reply(200, {"ok": True})
    clock.now += 30

    assert client.fetch("/things/1") == {"ok": True}
    assert breaker.state == "closed"


def test_a_4xx_counts_as_a_live_service_for_the_breaker(scripted_server):
    scripted_server.reply = lambda method, path: error_reply(404, "thing_not_found", "no")
    breaker = CircuitBreaker(failure_threshold=1, cooldown_s=30, clock=FakeClock())
    client, _ = example_client(scripted_server.url, breaker=breaker)

    for _ in range(3):
        with pytest.raises(NotFoundError):
            client.fetch("/things/1")

    assert breaker.state == "closed"


def test_a_malformed_answer_counts_as_a_failure_for_the_breaker(scripted_server):
    scripted_server.reply = lambda method, path: json_reply(200, {"unexpected": True})
    breaker = CircuitBreaker(failure_threshold=1, cooldown_s=30, clock=FakeClock())
    client = OrderClient(scripted_server.url, "t", breaker=breaker)

    with pytest.raises(ServiceUnavailableError):
        client.get_order("8800001001")

    assert breaker.state == "open"
    with pytest.raises(CircuitOpenError):
        client.get_order("8800001001")
    assert len(scripted_server.requests) == 1


def test_an_unknown_order_on_a_scripted_service_is_order_not_found(scripted_server):
    scripted_server.reply = lambda method, path: error_reply(404, "order_not_found", "no such order")
    client = OrderClient(scripted_server.url, "t")

    with pytest.raises(OrderNotFoundError):
        client.get_order("1")


# --------------------------------------------------------------------------------------
# Settings (bot/actions/settings.py): what every client is built from
# --------------------------------------------------------------------------------------

SETTINGS_VARIABLES = [
    "ORDERS_URL",
    "ORDERS_TOKEN",
    "RECORDS_SERVICE_URL",
    "RECORDS_TOKEN",
    "POLICY_FILE",
    *[
        f"{prefix}_{name}"
        for prefix in ("ORDERS", "RECORDS")
        for name in (
            "CONNECT_TIMEOUT_S",
            "READ_TIMEOUT_S",
            "MAX_RETRIES",
            "BACKOFF_S",
            "BREAKER_FAILURES",
            "BREAKER_COOLDOWN_S",
        )
    ],
]


@pytest.fixture
def clean_env(monkeypatch):
    for name in SETTINGS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_settings_defaults(clean_env):
    clean_env.setenv("ORDERS_TOKEN", "orders-secret")
    clean_env.setenv("RECORDS_TOKEN", "records-secret")

    settings = ActionSettings.from_env()

    assert settings == ActionSettings(
        orders=ServiceSettings(
            url="http://127.0.0.1:5070",
            token="orders-secret",
            connect_timeout_s=2.0,
            read_timeout_s=5.0,
            max_retries=2,
            backoff_s=0.2,
            breaker_failures=5,
            breaker_cooldown_s=30.0,
        ),
        records=ServiceSettings(url="http://127.0.0.1:5071", token="records-secret", max_retries=3),
    )


def test_settings_from_the_environment(clean_env):
    clean_env.setenv("ORDERS_URL", "https://orders.example.com/")
    clean_env.setenv("ORDERS_TOKEN", "orders-secret")
    clean_env.setenv("ORDERS_CONNECT_TIMEOUT_S", "0.5")
    clean_env.setenv("ORDERS_READ_TIMEOUT_S", "8")
    clean_env.setenv("ORDERS_MAX_RETRIES", "0")
    clean_env.setenv("RECORDS_SERVICE_URL", "http://records:5071")
    clean_env.setenv("RECORDS_TOKEN", "records-secret")
    clean_env.setenv("RECORDS_BREAKER_FAILURES", "9")

    settings = ActionSettings.from_env()

    assert (settings.orders.url, settings.orders.connect_timeout_s, settings.orders.read_timeout_s) == (
        "https://orders.example.com",
        0.5,
        8.0,
    )
    assert settings.orders.max_retries == 0
    assert (settings.records.url, settings.records.breaker_failures) == ("http://records:5071", 9)
    assert settings.policy_file is None


def test_a_merchants_own_policy_file_is_used(clean_env, tmp_path):
    shipped = Path(__file__).resolve().parents[3] / "bot" / "policy" / "aftersales_policy.yml"
    own = tmp_path / "policy.yml"
    own.write_text(shipped.read_text(encoding="utf-8").replace('close_at: "21:00"', 'close_at: "22:30"'),
                   encoding="utf-8")
    clean_env.setenv("ORDERS_TOKEN", "orders-secret")
    clean_env.setenv("RECORDS_TOKEN", "records-secret")
    clean_env.setenv("POLICY_FILE", str(own))

    built = Services.from_settings(ActionSettings.from_env())

    assert built.policy.settings.service_hours.close_at.strftime("%H:%M") == "22:30"
    built.orders.close()
    built.records.close()


@pytest.mark.parametrize("missing", ["ORDERS_TOKEN", "RECORDS_TOKEN"])
def test_a_missing_token_fails_loudly(clean_env, missing):
    for name in ("ORDERS_TOKEN", "RECORDS_TOKEN"):
        if name != missing:
            clean_env.setenv(name, "secret")

    with pytest.raises(MissingSettingError, match=missing):
        ActionSettings.from_env()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ORDERS_READ_TIMEOUT_S", "soon"),
        ("ORDERS_READ_TIMEOUT_S", "0"),
        ("ORDERS_MAX_RETRIES", "-1"),
        ("RECORDS_BREAKER_FAILURES", "0"),
        ("ORDERS_URL", "orders:5070"),
    ],
)
def test_a_malformed_setting_fails_loudly(clean_env, name, value):
    clean_env.setenv("ORDERS_TOKEN", "secret")
    clean_env.setenv("RECORDS_TOKEN", "secret")
    clean_env.setenv(name, value)

    with pytest.raises(MissingSettingError):
        ActionSettings.from_env()


def test_settings_repr_hides_the_tokens(clean_env):
    clean_env.setenv("ORDERS_TOKEN", "orders-secret")
    clean_env.setenv("RECORDS_TOKEN", "records-secret")

    text = repr(ActionSettings.from_env())

    assert "orders-secret" not in text
    assert "records-secret" not in text
    assert "http://127.0.0.1:5070" in text
