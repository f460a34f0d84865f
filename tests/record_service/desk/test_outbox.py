"""Handoffs delivered to a shop's own help desk by the signed webhook, against the real process.

The receiver is a local HTTP server playing the shop's desk: it checks the signature with
the shared secret, drops duplicates by delivery id, and can be down or answer 500.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from record_service.db import migrate
from record_service.desk.outbox import DeliveryWorker
from record_service.desk.signing import verify
from record_service.models import HandoffDelivery, HandoffTicket
from record_service.settings import DeliverySettings
from service_common.db import make_engine, session_factory, transaction
from tests.fixtures.desk import (
    SERVICE_TOKEN,
    TIMEOUT_S,
    create_handoff,
    handoff_body,
    new_id,
    start_desk_service,
    wait_until,
)
from tests.fixtures.fake_rasa import FakeRasa
from tests.fixtures.servers import RunningService, free_port

SECRET = secrets.token_urlsafe(24)  # generated: no secret-looking literal in the repo


@dataclass
class Received:
    """One request the receiver got."""

    delivery_id: str
    event: str
    signature_valid: bool
    body: dict[str, Any]
    at: float


@dataclass
class Receiver:
    """The shop's desk: verifies, dedupes by delivery id, can fail or be down."""

    port: int = field(default_factory=free_port)
    requests: list[Received] = field(default_factory=list)
    handoffs: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_next: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/handoffs"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                valid = verify(SECRET, self.headers.get("X-Aftersales-Timestamp", ""), raw,
                               self.headers.get("X-Aftersales-Signature", ""), now=time.time())
                delivery_id = self.headers.get("X-Aftersales-Delivery", "")
                with receiver._lock:
                    receiver.requests.append(Received(delivery_id, self.headers.get("X-Aftersales-Event", ""),
                                                      valid, json.loads(raw), time.monotonic()))
                    if valid:  # stored, then maybe the answer is lost: the retry must not double it
                        receiver.handoffs.setdefault(delivery_id, json.loads(raw))
                    failing = receiver.fail_next > 0
                    receiver.fail_next -= 1 if failing else 0
                self.send_response(500 if failing else 204 if valid else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self._server = server

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def for_ticket(self, ticket_id: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.body["ticket"]["ticket_id"] == ticket_id]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.stop()


def webhook_env(fake_rasa: FakeRasa, receiver: Receiver, **extra: str) -> dict[str, str]:
    return {
        "RECORDS_BOT_URL": fake_rasa.url,
        "RECORDS_BOT_TOKEN": fake_rasa.token,
        "RECORDS_HANDOFF_WEBHOOK_URL": receiver.url,
        "RECORDS_HANDOFF_WEBHOOK_SECRET": SECRET,
        "RECORDS_DELIVERY_BACKOFF_S": "0.2",
        **extra,
    }


def deliveries(service: RunningService, **params: str) -> list[dict[str, Any]]:
    response = requests.get(f"{service.url}/api/desk/deliveries", params=params,
                            headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}, timeout=TIMEOUT_S)
    assert response.status_code == 200
    found: list[dict[str, Any]] = response.json()["deliveries"]
    return found


def delivery_of(service: RunningService, ticket_id: str) -> dict[str, Any] | None:
    return next((d for d in deliveries(service, limit="500") if d["ticket_id"] == ticket_id), None)


def delivery_when(
    service: RunningService, ticket_id: str, condition: Callable[[dict[str, Any]], bool], timeout_s: float = 30
) -> dict[str, Any]:
    """The ticket's delivery once `condition` holds for it (fails the test after the timeout)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = delivery_of(service, ticket_id)
        if found is not None and condition(found):
            return found
        time.sleep(0.1)
    raise AssertionError(f"the delivery of {ticket_id} never got there: {delivery_of(service, ticket_id)}")


@pytest.fixture
def started() -> Iterator[list[RunningService]]:
    services: list[RunningService] = []
    yield services
    for service in services:
        service.stop()


@pytest.mark.slow  # starts a record service of its own and waits out real backoffs
def test_a_new_handoff_is_posted_signed_with_its_context(
    fake_rasa: FakeRasa, receiver: Receiver, tmp_path: Path, started: list[RunningService]
) -> None:
    receiver.start()
    service = start_desk_service(tmp_path, "records.log", webhook_env(fake_rasa, receiver))
    started.append(service)
    body = handoff_body(new_id("wx"))

    ticket = create_handoff(service, body)
    [received] = wait_until(lambda: receiver.for_ticket(ticket["ticket_id"]))

    assert received.signature_valid
    assert received.event == "handoff.created"
    expected_ticket = {key: value for key, value in ticket.items() if key != "context"}
    assert received.body == {"event": "handoff.created", "ticket": expected_ticket, "context": body["context"]}
    assert "13800138000" not in json.dumps(received.body)
    delivered = delivery_when(service, ticket["ticket_id"], lambda d: d["status"] == "delivered")
    assert delivered["delivery_id"] == received.delivery_id
    assert (delivered["target"], delivered["attempts"], delivered["last_error"]) == ("webhook", 1, None)


@pytest.mark.slow  # starts a record service of its own and waits out real backoffs
def test_a_retried_request_creates_no_second_delivery(
    fake_rasa: FakeRasa, receiver: Receiver, tmp_path: Path, started: list[RunningService]
) -> None:
    receiver.start()
    service = start_desk_service(tmp_path, "records.log", webhook_env(fake_rasa, receiver))
    started.append(service)
    body, key = handoff_body(new_id("wx")), new_id("k")

    first, again = create_handoff(service, body, key), create_handoff(service, body, key)
    other = create_handoff(service, handoff_body(new_id("wx")))
    wait_until(lambda: receiver.for_ticket(first["ticket_id"]) and receiver.for_ticket(other["ticket_id"]))
    # Once no delivery is pending, a second one of the first ticket, had there been one, was sent.
    assert wait_until(lambda: deliveries(service, status="pending") == [])

    assert first["ticket_id"] == again["ticket_id"]
    assert len(receiver.for_ticket(first["ticket_id"])) == 1
    ids = {receiver.for_ticket(t)[0].delivery_id for t in (first["ticket_id"], other["ticket_id"])}
    assert len(ids) == 2


@pytest.mark.slow  # starts a record service of its own and waits out real backoffs
def test_a_failing_receiver_gets_retries_with_backoff_and_the_same_delivery_id(
    fake_rasa: FakeRasa, receiver: Receiver, tmp_path: Path, started: list[RunningService]
) -> None:
    receiver.fail_next = 3  # it stores each request but answers 500 (as if the answer were lost)
    receiver.start()
    service = start_desk_service(tmp_path, "records.log", webhook_env(fake_rasa, receiver))
    started.append(service)

    ticket = create_handoff(service, handoff_body(new_id("wx")))
    delivered = delivery_when(service, ticket["ticket_id"], lambda d: d["status"] == "delivered")

    attempts = receiver.for_ticket(ticket["ticket_id"])
    assert delivered["attempts"] == 4
    assert len(attempts) == 4
    assert {a.delivery_id for a in attempts} == {delivered["delivery_id"]}
    assert all(a.signature_valid for a in attempts)
    assert len(receiver.handoffs) == 1  # the receiver dropped the duplicates by delivery id
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(attempts)]
    # Backoff 0.2 s doubled each time, times a jitter factor of at least 0.5.
    assert [gap >= 0.5 * 0.2 * 2**n for n, gap in enumerate(gaps)] == [True, True, True]


@pytest.mark.slow  # starts a record service of its own and waits out real backoffs
def test_a_receiver_down_gets_the_handoff_once_it_is_back(
    fake_rasa: FakeRasa, receiver: Receiver, tmp_path: Path, started: list[RunningService]
) -> None:
    service = start_desk_service(tmp_path, "records.log", webhook_env(fake_rasa, receiver))
    started.append(service)

    ticket = create_handoff(service, handoff_body(new_id("wx")))
    pending = delivery_when(service, ticket["ticket_id"], lambda d: d["attempts"] >= 2)
    receiver.start()
    [received] = wait_until(lambda: receiver.for_ticket(ticket["ticket_id"]))
    delivered = delivery_when(service, ticket["ticket_id"], lambda d: d["status"] == "delivered")

    assert pending["status"] == "pending"
    assert pending["last_error"] == "webhook unreachable: ConnectionError"
    assert received.signature_valid
    assert delivered["attempts"] >= 3


@pytest.mark.slow  # starts a record service of its own and waits out real backoffs
def test_pending_deliveries_survive_a_restart(
    fake_rasa: FakeRasa, receiver: Receiver, tmp_path: Path, started: list[RunningService]
) -> None:
    env = webhook_env(fake_rasa, receiver, RECORDS_DELIVERY_BACKOFF_S="1")
    first = start_desk_service(tmp_path, "first.log", env)
    started.append(first)
    tickets = [create_handoff(first, handoff_body(new_id("wx")))["ticket_id"] for _ in range(3)]
    for ticket_id in tickets:
        delivery_when(first, ticket_id, lambda d: d["attempts"] >= 1)
    first.process.kill()  # SIGKILL while deliveries are pending
    first.process.wait(timeout=10)

    receiver.start()
    second = start_desk_service(tmp_path, "second.log", env)
    started.append(second)

    assert wait_until(lambda: all(receiver.for_ticket(t) for t in tickets), timeout_s=30)
    assert all(len(receiver.for_ticket(t)) == 1 for t in tickets)
    assert all(delivery_when(second, t, lambda d: d["status"] == "delivered") for t in tickets)


@pytest.mark.slow  # starts a record service of its own and waits out real backoffs
def test_after_the_last_attempt_a_delivery_is_failed_kept_and_replayable(
    fake_rasa: FakeRasa, receiver: Receiver, tmp_path: Path, started: list[RunningService]
) -> None:
    service = start_desk_service(
        tmp_path, "records.log", webhook_env(fake_rasa, receiver, RECORDS_DELIVERY_MAX_ATTEMPTS="2")
    )
    started.append(service)
    ticket = create_handoff(service, handoff_body(new_id("wx")))

    failed = delivery_when(service, ticket["ticket_id"], lambda d: d["status"] == "failed")
    listed = deliveries(service, status="failed")
    receiver.start()
    later = create_handoff(service, handoff_body(new_id("wx")))
    # A later handoff got through: the worker went round with the receiver up and left the failed one.
    assert wait_until(lambda: receiver.for_ticket(later["ticket_id"]))
    nothing_yet = receiver.for_ticket(ticket["ticket_id"])
    replay = requests.post(f"{service.url}/api/desk/deliveries/{failed['delivery_id']}/replay",
                           headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}, timeout=TIMEOUT_S)
    [received] = wait_until(lambda: receiver.for_ticket(ticket["ticket_id"]))
    replay_again = requests.post(f"{service.url}/api/desk/deliveries/{failed['delivery_id']}/replay",
                                 headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}, timeout=TIMEOUT_S)

    assert (failed["attempts"], failed["next_attempt_at"]) == (2, None)
    assert failed["delivery_id"] in {d["delivery_id"] for d in listed}
    assert nothing_yet == []
    assert (replay.status_code, replay.json()["status"], replay.json()["attempts"]) == (200, "pending", 0)
    assert received.delivery_id == failed["delivery_id"]
    assert replay_again.status_code in (200, 409)  # 409 delivery_not_failed once it is delivered
    unknown = requests.post(f"{service.url}/api/desk/deliveries/{new_id('x')}/replay",
                            headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}, timeout=TIMEOUT_S)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "delivery_not_found")


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    settings = DeliverySettings(max_attempts=20, backoff_s=2.0, max_backoff_s=600.0)
    low = DeliveryWorker(None, {}, settings, jitter=lambda: 0.5)
    high = DeliveryWorker(None, {}, settings, jitter=lambda: 0.999)

    assert [low.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert high.backoff(3) == timedelta(seconds=8 * 0.999)
    assert low.backoff(30) == timedelta(seconds=300)


def test_a_lease_keeps_a_delivery_from_being_sent_twice(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'records.db'}")
    migrate(engine)
    sessions = session_factory(engine)
    now = datetime.now(timezone.utc)
    with transaction(sessions) as session:
        session.add(HandoffTicket(
            ticket_id="HO24050100000001", conversation_id="c", channel="web", reason="other", priority=3,
            status="queued", created_at=now, due_at=now, context={},
        ))
        session.flush()
        session.add(HandoffDelivery(
            delivery_id="00000000-0000-4000-8000-000000000001", ticket_id="HO24050100000001", target="webhook",
            event="handoff.created", payload={}, status="pending", attempts=0, next_attempt_at=now, created_at=now,
        ))
    sent: list[str] = []

    class Recorder:
        def send(self, delivery: Any) -> None:
            sent.append(delivery.delivery_id)

        def close(self) -> None:
            pass

    workers = [DeliveryWorker(sessions, {"webhook": Recorder()}, DeliverySettings()) for _ in range(2)]
    leased = [worker._lease_due() for worker in workers]
    attempted = [worker.deliver_due() for worker in workers]  # nothing is due any more

    assert [len(batch) for batch in leased] == [1, 0]
    assert attempted == [0, 0]
    workers[0]._attempt(leased[0][0])
    assert sent == ["00000000-0000-4000-8000-000000000001"]
    with transaction(sessions) as session:
        row = session.get(HandoffDelivery, "00000000-0000-4000-8000-000000000001")
        assert (row.status, row.attempts) == ("delivered", 1)
    engine.dispose()
