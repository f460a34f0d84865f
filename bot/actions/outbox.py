"""The action server's outbox: every write the shopper is told about, kept until delivered.

A service record, complaint, handoff or satisfaction record is first committed to a local
table (SQLite by default, PostgreSQL in production) and only then is the shopper answered;
delivery to the record service follows at once and, while the service is down, again and
again from a background task (``rasa_sdk_plugins``) with growing pauses, each time with
the write's idempotency key, so it is stored exactly once. Ticket ids are drawn by the bot
before queueing (``service_common.tickets``), so the shopper is told the number the
record service will keep.

The writes of one conversation are delivered in the order they were queued: when one
cannot be delivered, the later ones of that conversation wait behind it. A write the
service refuses (4xx: a bug, not an outage) is set aside as ``rejected`` and logged; it
is counted in the backlog so that a person looks at it. Delivered writes are deleted after
a day (they hold personal data the record service keeps anyway).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, Protocol

from sqlalchemy import JSON, Column, Integer, String, delete, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import declarative_base

from bot.actions.http_client import ServiceError, ServiceUnavailableError
from bot.actions.records_client import WriteKind
from service_common.db import UtcDateTime, session_factory, transaction

logger = logging.getLogger(__name__)

Base: Any = declarative_base()

WriteStatus = Literal["pending", "delivered", "rejected"]
PENDING: WriteStatus = "pending"
DELIVERED: WriteStatus = "delivered"
REJECTED: WriteStatus = "rejected"

# Pauses between delivery attempts of one write: doubled from the first to the last, so
# that a write reaches a service that is back within a minute of its return.
FIRST_RETRY_DELAY = timedelta(seconds=1)
LONGEST_RETRY_DELAY = timedelta(seconds=15)
DELIVERED_RETENTION = timedelta(days=1)
MAX_ERROR_CHARS = 200


class QueuedWriteRow(Base):
    """One write waiting for (or done by) the record service."""

    __tablename__ = "action_outbox"

    id = Column(Integer, primary_key=True, autoincrement=True)
    idempotency_key = Column(String(100), nullable=False, unique=True)
    conversation_id = Column(String(128), nullable=False, index=True)
    kind = Column(String(16), nullable=False)
    body = Column(JSON, nullable=False)
    status = Column(String(16), nullable=False, index=True)
    attempts = Column(Integer, nullable=False)
    next_attempt_at = Column(UtcDateTime, nullable=False)
    created_at = Column(UtcDateTime, nullable=False)
    delivered_at = Column(UtcDateTime)
    last_error = Column(String(MAX_ERROR_CHARS))


class WriteDelivery(Protocol):
    """What delivers a queued write: ``RecordsClient.deliver``."""

    def deliver(self, kind: WriteKind, body: Mapping[str, Any], idempotency_key: str) -> None: ...


@dataclass(frozen=True)
class QueuedWrite:
    """A write as the outbox holds it.

    Attributes:
        kind: ``record``, ``complaint`` or ``handoff``.
        body: The JSON body for the record service, as first queued.
        idempotency_key: The key it is delivered with.
        status: ``pending``, ``delivered`` or ``rejected``.
    """

    kind: WriteKind
    body: dict[str, Any]
    idempotency_key: str
    status: WriteStatus


@dataclass(frozen=True)
class Backlog:
    """What the outbox holds that the record service does not have yet.

    Attributes:
        pending: Writes waiting for delivery.
        rejected: Writes the record service refused (a person must look).
        oldest_pending_s: Age of the oldest pending write in seconds, or None.
    """

    pending: int
    rejected: int
    oldest_pending_s: float | None

    def to_json(self) -> dict[str, Any]:
        """The outbox health endpoint's body."""
        return {
            "status": "ok" if self.pending == 0 and self.rejected == 0 else "backlog",
            "pending": self.pending,
            "rejected": self.rejected,
            "oldest_pending_s": self.oldest_pending_s,
        }


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _journal_ahead(engine: Engine) -> None:
    """WAL, and no fsync at each commit: a queued write then survives a killed action server
    (what the outbox is for) without a disk flush in every shopper's turn."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def retry_delay(attempts: int) -> timedelta:
    """The pause after ``attempts`` failed deliveries (1 s, 2 s, 4 s... at most 15 s)."""
    return min(FIRST_RETRY_DELAY * 2 ** max(attempts - 1, 0), LONGEST_RETRY_DELAY)


class WriteOutbox:
    """The durable queue of the action server's writes to the record service.

    Args:
        engine: Where the queue is kept; its table is created when missing.
        poll_interval_s: Seconds between the background task's deliveries.
        clock: Returns the current aware time (tests pass a fixed one).
    """

    def __init__(
        self, engine: Engine, poll_interval_s: float = 2.0, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        self.poll_interval_s = poll_interval_s
        self._engine = engine
        self._sessions = session_factory(engine)
        self._clock = clock
        if engine.dialect.name == "sqlite":
            _journal_ahead(engine)
        Base.metadata.create_all(engine)
        # The action server forks its Sanic workers after this: no pooled connection may be
        # inherited by two processes (they would talk over one socket and garble it).
        engine.dispose()

    def close(self) -> None:
        """Releases the database connections."""
        self._engine.dispose()

    def queue(
        self, kind: WriteKind, body: Mapping[str, Any], idempotency_key: str, conversation_id: str
    ) -> QueuedWrite:
        """Commits a write to the queue; a key queued before gives back the first write.

        A retried action (same key) must tell the shopper what the first try told them,
        e.g. the same ticket id, so the stored body wins over the new one.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: The queue's database cannot be written.
        """
        now = self._clock()
        row = QueuedWriteRow(
            idempotency_key=idempotency_key,
            conversation_id=conversation_id,
            kind=kind,
            body=dict(body),
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        try:
            with transaction(self._sessions) as session:
                session.add(row)
        except IntegrityError:
            with transaction(self._sessions) as session:
                stored = session.execute(
                    select(QueuedWriteRow).where(QueuedWriteRow.idempotency_key == idempotency_key)
                ).scalar_one()
                return _queued(stored)
        return _queued(row)

    def deliver_conversation(self, conversation_id: str, client: WriteDelivery) -> int:
        """Delivers a conversation's pending writes now, oldest first, whatever their pause.

        Called by the action right after queueing, so that in the usual case the record
        service has the write before the shopper reads the answer.

        Returns:
            How many writes are still pending for the conversation.
        """
        statement = (
            select(QueuedWriteRow.id)
            .where(QueuedWriteRow.conversation_id == conversation_id, QueuedWriteRow.status == PENDING)
            .order_by(QueuedWriteRow.id)
        )
        return self._deliver(statement, client)

    def deliver_due(self, client: WriteDelivery, limit: int = 200) -> Backlog:
        """Delivers the pending writes whose pause is over (the background task's call).

        Returns:
            What is still waiting afterwards.
        """
        statement = (
            select(QueuedWriteRow.id)
            .where(QueuedWriteRow.status == PENDING)
            .order_by(QueuedWriteRow.id)
            .limit(limit)
        )
        self._deliver(statement, client, respect_pauses=True)
        self._forget_delivered()
        return self.backlog()

    def backlog(self) -> Backlog:
        """How many writes wait, how many were refused, and how old the oldest is."""
        with transaction(self._sessions) as session:
            counts = dict(
                session.execute(
                    select(QueuedWriteRow.status, func.count())
                    .where(QueuedWriteRow.status != DELIVERED)
                    .group_by(QueuedWriteRow.status)
                ).all()
            )
            oldest = session.execute(
                select(func.min(QueuedWriteRow.created_at)).where(QueuedWriteRow.status == PENDING)
            ).scalar()
        if oldest is not None and oldest.tzinfo is None:  # min() skips the column's type
            oldest = oldest.replace(tzinfo=timezone.utc)
        age = None if oldest is None else round((self._clock() - oldest).total_seconds(), 1)
        return Backlog(pending=counts.get(PENDING, 0), rejected=counts.get(REJECTED, 0), oldest_pending_s=age)

    def written(self, idempotency_key: str) -> QueuedWrite | None:
        """The write queued with ``idempotency_key``, or None."""
        with transaction(self._sessions) as session:
            row = session.execute(
                select(QueuedWriteRow).where(QueuedWriteRow.idempotency_key == idempotency_key)
            ).scalar_one_or_none()
            return None if row is None else _queued(row)

    # ------------------------------------------------------------------ internals

    def _deliver(self, statement: Any, client: WriteDelivery, *, respect_pauses: bool = False) -> int:
        """Delivers the writes ``statement`` selects, in id order; returns how many still wait.

        A write that waits (paused, or failed now) holds back the later writes of its
        conversation, so that the record service gets each conversation's in order.
        """
        with transaction(self._sessions) as session:
            ids = list(session.execute(statement).scalars())
        blocked: set[str] = set()
        for row_id in ids:
            with transaction(self._sessions) as session:
                row = session.get(QueuedWriteRow, row_id)
                if row is None or row.status != PENDING or row.conversation_id in blocked:
                    continue
                if respect_pauses and row.next_attempt_at > self._clock():
                    blocked.add(row.conversation_id)
                    continue
                kind, body, key = row.kind, dict(row.body), row.idempotency_key
            outcome, error = self._attempt(client, kind, body, key)
            with transaction(self._sessions) as session:
                row = session.get(QueuedWriteRow, row_id)
                if row is None or row.status != PENDING:
                    continue  # another worker delivered it meanwhile
                now = self._clock()
                row.attempts += 1
                row.last_error = error
                if outcome in (DELIVERED, REJECTED):
                    row.status = outcome
                    row.delivered_at = now
                else:
                    row.next_attempt_at = now + retry_delay(row.attempts)
                    blocked.add(row.conversation_id)
        with transaction(self._sessions) as session:
            return len(
                [
                    row_id
                    for row_id in ids
                    if (row := session.get(QueuedWriteRow, row_id)) is not None and row.status == PENDING
                ]
            )

    @staticmethod
    def _attempt(
        client: WriteDelivery, kind: WriteKind, body: dict[str, Any], key: str
    ) -> tuple[WriteStatus, str | None]:
        try:
            client.deliver(kind, body, key)
        except ServiceUnavailableError as error:
            return PENDING, str(error)[:MAX_ERROR_CHARS]
        except ServiceError as error:
            # The service is up and refuses this write: retrying will not change that.
            logger.error("the record service refused a queued %s write (key %s): %s", kind, key, error)
            return REJECTED, str(error)[:MAX_ERROR_CHARS]
        return DELIVERED, None

    def _forget_delivered(self) -> None:
        cutoff = self._clock() - DELIVERED_RETENTION
        with transaction(self._sessions) as session:
            session.execute(
                delete(QueuedWriteRow).where(
                    QueuedWriteRow.status == DELIVERED, QueuedWriteRow.delivered_at < cutoff
                )
            )


def describe_backlog(previous: Backlog | None, current: Backlog) -> str | None:
    """The log line for a change in the backlog, or None when there is nothing new to say.

    Said when writes start waiting or refusals appear, when the number waiting changes,
    and once when everything has been delivered.
    """
    if current.pending == 0 and current.rejected == 0:
        if previous is not None and (previous.pending or previous.rejected):
            return "record outbox: every queued write is delivered"
        return None
    if previous is not None and (previous.pending, previous.rejected) == (current.pending, current.rejected):
        return None
    oldest = "" if current.oldest_pending_s is None else f", the oldest for {current.oldest_pending_s:.0f} s"
    return (
        f"record outbox: {current.pending} write(s) wait for the record service{oldest}; "
        f"{current.rejected} refused by it (see the error log)"
    )


def _queued(row: QueuedWriteRow) -> QueuedWrite:
    return QueuedWrite(
        kind=row.kind, body=dict(row.body), idempotency_key=row.idempotency_key, status=row.status
    )
