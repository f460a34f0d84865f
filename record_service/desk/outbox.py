"""Delivering new handoffs to external help desks: a transactional outbox and its worker.

A `handoff_deliveries` row is written in the handoff's own transaction (see
`RecordRepository.create_handoff`), so a committed ticket is never without its delivery
and a rolled-back one never has one. The worker, a background task of the record
service, takes due rows, sends them, and records the outcome: `delivered` on success,
otherwise another attempt after an exponential backoff with jitter, until the configured
number of attempts, then `failed` (kept, listed, and replayable by an operator).

A row is leased (its next attempt moved past the time a send can take) by a
compare-and-set before it is sent, so two workers never send it at once. Pending rows
survive a restart: the worker picks them up when they are due, or when a lease taken by
a process that died expires. A receiver may see a delivery more than once (a lost 2xx);
the delivery id stays the same across attempts for it to drop duplicates.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import requests
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from record_service.desk.signing import sign
from record_service.models import HandoffDelivery
from record_service.repository import ConflictError, NotFoundError, iso, utc_now
from record_service.settings import DeliverySettings
from service_common.db import transaction
from service_common.http import run_blocking

logger = logging.getLogger(__name__)

# How long a leased delivery is left to its sender before another worker may take it.
LEASE = timedelta(seconds=60)
# Deliveries taken per round of the worker.
BATCH_SIZE = 20
MAX_ERROR_CHARS = 200


class DeliveryFailed(Exception):
    """A delivery was not accepted; the message (no secrets, no personal data) is kept on the row."""


@dataclass(frozen=True)
class Delivery:
    """A delivery being attempted."""

    delivery_id: str
    ticket_id: str
    target: str
    event: str
    payload: dict[str, Any]
    attempts: int


class Sender(Protocol):
    """Sends one delivery to its help desk, or raises DeliveryFailed."""

    def send(self, delivery: Delivery) -> None: ...

    def close(self) -> None: ...


class WebhookSender:
    """Posts deliveries to the signed outgoing webhook.

    The body is the delivery's JSON ({event, ticket, context}); headers
    `X-Aftersales-Event`, `X-Aftersales-Delivery` (the delivery id, the same on every
    attempt), `X-Aftersales-Timestamp` (Unix seconds) and `X-Aftersales-Signature`
    (`signing.sign`). Any 2xx is success.

    Args:
        url: The receiver (RECORDS_HANDOFF_WEBHOOK_URL).
        secret: The HMAC key (RECORDS_HANDOFF_WEBHOOK_SECRET).
        connect_timeout_s: Seconds to wait for a connection.
        read_timeout_s: Seconds to wait for the answer.
        clock: Unix seconds, for the timestamp.
    """

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._url = url
        self._secret = secret
        self._timeout = (connect_timeout_s, read_timeout_s)
        self._clock = clock
        self._session = requests.Session()

    def send(self, delivery: Delivery) -> None:
        """Posts one delivery.

        Raises:
            DeliveryFailed: The receiver could not be reached or did not answer 2xx.
        """
        body = json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        timestamp = str(int(self._clock()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Aftersales-Event": delivery.event,
            "X-Aftersales-Delivery": delivery.delivery_id,
            "X-Aftersales-Timestamp": timestamp,
            "X-Aftersales-Signature": sign(self._secret, timestamp, body),
        }
        try:
            reply = self._session.post(self._url, data=body, headers=headers, timeout=self._timeout)
        except requests.RequestException as error:
            raise DeliveryFailed(f"webhook unreachable: {type(error).__name__}") from None
        if not 200 <= reply.status_code < 300:
            raise DeliveryFailed(f"webhook answered HTTP {reply.status_code}")

    def close(self) -> None:
        """Closes the HTTP session."""
        self._session.close()


class DeliveryWorker:
    """Sends due deliveries, in the background of the record service.

    Args:
        sessions: The record database's session factory.
        senders: The sender of each target (`webhook`, `chatwoot`); rows of other
            targets wait until their target is configured again.
        settings: Attempts, backoff and polling interval.
        clock: Returns the current aware time.
        jitter: Returns a factor in [0.5, 1) that spreads retries of many deliveries.
    """

    def __init__(
        self,
        sessions: sessionmaker,
        senders: Mapping[str, Sender],
        settings: DeliverySettings,
        clock: Callable[[], datetime] = utc_now,
        jitter: Callable[[], float] = lambda: random.uniform(0.5, 1.0),  # noqa: S311 - not security
    ) -> None:
        self._sessions = sessions
        self._senders = dict(senders)
        self._settings = settings
        self._clock = clock
        self._jitter = jitter

    async def run(self) -> None:
        """Delivers what is due, then waits `poll_s`, until cancelled."""
        logger.info("outbox: delivering handoffs to %s", ", ".join(sorted(self._senders)))
        while True:
            try:
                await run_blocking(self.deliver_due)
            except asyncio.CancelledError:
                raise
            except Exception:  # the worker must outlive a database hiccup
                logger.exception("outbox: a delivery round failed; trying again shortly")
            await asyncio.sleep(self._settings.poll_s)

    def deliver_due(self) -> int:
        """Sends every due delivery once; returns how many were attempted."""
        leased = self._lease_due()
        for delivery in leased:
            self._attempt(delivery)
        return len(leased)

    def backoff(self, attempts: int) -> timedelta:
        """The wait after `attempts` failed attempts: exponential, capped, with jitter."""
        settings = self._settings
        delay = min(settings.max_backoff_s, settings.backoff_s * 2 ** (attempts - 1))
        return timedelta(seconds=delay * self._jitter())

    def _lease_due(self) -> list[Delivery]:
        now = self._clock()
        with transaction(self._sessions) as session:
            rows = session.execute(
                select(HandoffDelivery)
                .where(
                    HandoffDelivery.status == "pending",
                    HandoffDelivery.next_attempt_at <= now,
                    HandoffDelivery.target.in_(list(self._senders)),
                )
                .order_by(HandoffDelivery.next_attempt_at)
                .limit(BATCH_SIZE)
            ).scalars().all()
            leased = []
            for row in rows:
                taken = session.execute(
                    update(HandoffDelivery)
                    .where(
                        HandoffDelivery.delivery_id == row.delivery_id,
                        HandoffDelivery.status == "pending",
                        HandoffDelivery.next_attempt_at == row.next_attempt_at,
                    )
                    .values(next_attempt_at=now + LEASE)
                    .execution_options(synchronize_session=False)
                )
                if taken.rowcount == 1:
                    leased.append(
                        Delivery(
                            row.delivery_id, row.ticket_id, row.target, row.event, row.payload, row.attempts
                        )
                    )
        return leased

    def _attempt(self, delivery: Delivery) -> None:
        error: str | None = None
        try:
            self._senders[delivery.target].send(delivery)
        except DeliveryFailed as failure:
            error = str(failure)[:MAX_ERROR_CHARS]
        except Exception as unexpected:  # a sender's bug must not stop the other deliveries
            logger.exception("outbox: delivery %s to %s raised", delivery.delivery_id, delivery.target)
            error = f"unexpected {type(unexpected).__name__}"
        with transaction(self._sessions) as session:
            row = session.get(HandoffDelivery, delivery.delivery_id)
            if row is None or row.status != "pending":
                return
            now = self._clock()
            row.attempts = delivery.attempts + 1
            if error is None:
                row.status, row.delivered_at, row.last_error = "delivered", now, None
                logger.info("outbox: delivery %s of ticket %s to %s delivered (attempt %d)",
                            delivery.delivery_id, delivery.ticket_id, delivery.target, row.attempts)
            elif row.attempts >= self._settings.max_attempts:
                row.status, row.last_error = "failed", error
                logger.error("outbox: delivery %s of ticket %s to %s failed for good after %d attempts: %s",
                             delivery.delivery_id, delivery.ticket_id, delivery.target, row.attempts, error)
            else:
                row.next_attempt_at, row.last_error = now + self.backoff(row.attempts), error
                logger.warning("outbox: delivery %s to %s failed (attempt %d of %d): %s",
                               delivery.delivery_id, delivery.target, row.attempts,
                               self._settings.max_attempts, error)


class OutboxRepository:
    """The deliveries, for operators: listing them and replaying failed ones.

    Args:
        session: A session inside a transaction.
        clock: Returns the current aware time.
    """

    def __init__(self, session: Session, clock: Callable[[], datetime] = utc_now) -> None:
        self.session = session
        self.clock = clock

    def deliveries(self, status: str | None, limit: int) -> list[HandoffDelivery]:
        """Deliveries (of one status, if given), newest first."""
        statement = select(HandoffDelivery)
        if status is not None:
            statement = statement.where(HandoffDelivery.status == status)
        statement = statement.order_by(HandoffDelivery.created_at.desc()).limit(limit)
        return list(self.session.execute(statement).scalars())

    def replay(self, delivery_id: str) -> HandoffDelivery:
        """Makes a failed delivery pending again, with a fresh set of attempts.

        Raises:
            NotFoundError: delivery_not_found.
            ConflictError: delivery_not_failed (it is pending or delivered).
        """
        row = self.session.get(HandoffDelivery, delivery_id)
        if row is None:
            raise NotFoundError("delivery_not_found", "no such delivery")
        if row.status != "failed":
            raise ConflictError("delivery_not_failed", "only a failed delivery can be replayed")
        row.status, row.attempts, row.next_attempt_at = "pending", 0, self.clock()
        return row


def delivery_json(row: HandoffDelivery) -> dict[str, Any]:
    """A delivery as operators see it (its payload is the ticket's, not repeated here)."""
    return {
        "delivery_id": row.delivery_id,
        "ticket_id": row.ticket_id,
        "target": row.target,
        "event": row.event,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": iso(row.next_attempt_at) if row.status == "pending" else None,
        "last_error": row.last_error,
        "created_at": iso(row.created_at),
        "delivered_at": iso(row.delivered_at),
    }
