"""Durable channel state: where a channel's pull stopped, and which messages it handled.

A channel that pulls its messages (WeCom's `kf/sync_msg`) keeps a cursor per stream, and a
channel that can be given one message twice (a platform's retries, the same batch pulled
again after a restart) keeps the ids of the messages it handled. Both live in two small
tables of a SQL database (a SQLite file by default, PostgreSQL by URL), a `channel` column
keeping channels apart (WeCom is the one that uses them), so that a restart neither loses
nor repeats a message:

- `claim(id)` takes a message *before* its bot turn, atomically (the primary key decides
  between two claimants), so that one message never gets two turns;
- `finish(id)` marks it handled once its answer went out;
- a caller saves the cursor only after every message of the batch was finished, so that a
  restart pulls the batch again and the claims skip what was already handled.

A claim left unfinished by an earlier process (it stopped mid-turn) is reported as
`Claim.ABANDONED`; the caller decides whether the turn ran (WeCom asks Rasa's tracker)
and `adopt`s it. This assumes one process serves a channel per state database, as one
Rasa server does; a second live process's claims would look abandoned too.

Ids of handled messages are kept for a TTL (a week by default: far longer than any
platform redelivers) and removed by `expire`.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from sqlalchemy import Column, Index, MetaData, String, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from service_common.db import UtcDateTime, make_engine, session_factory, transaction

DEFAULT_TTL = timedelta(days=7)
MAX_CHANNEL_CHARS = 32
MAX_KEY_CHARS = 128
MAX_CURSOR_CHARS = 256

metadata = MetaData()

channel_cursors = Table(
    "channel_cursors",
    metadata,
    Column("channel", String(MAX_CHANNEL_CHARS), primary_key=True),
    Column("stream", String(MAX_KEY_CHARS), primary_key=True),
    Column("cursor", String(MAX_CURSOR_CHARS), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

channel_messages = Table(
    "channel_messages",
    metadata,
    Column("channel", String(MAX_CHANNEL_CHARS), primary_key=True),
    Column("message_id", String(MAX_KEY_CHARS), primary_key=True),
    # The store instance (one per process) that claimed it: tells "another task of this
    # process is on it" from "a process that stopped left it".
    Column("owner", String(32), nullable=False),
    Column("claimed_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime(), nullable=True),
    Index("ix_channel_messages_claimed_at", "claimed_at"),
)


class Claim(enum.Enum):
    """What `ChannelState.claim` found."""

    NEW = "new"  # claimed now: the caller handles the message
    HANDLED = "handled"  # finished before: skip it
    TAKEN = "taken"  # claimed by this store and not finished: another task is on it
    ABANDONED = "abandoned"  # claimed by an earlier process that stopped before finishing


class ChannelStateError(ValueError):
    """A key or cursor does not fit the state tables."""


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class ChannelState:
    """One channel's cursors and handled message ids in a SQL database.

    Blocking (SQLAlchemy); call it from a worker thread in async code. Safe to share
    between threads: every method is its own transaction.
    """

    def __init__(
        self,
        database_url: str,
        channel: str,
        *,
        ttl: timedelta = DEFAULT_TTL,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        """Opens the state database and creates the missing tables.

        Args:
            database_url: A SQLAlchemy URL, e.g. `sqlite:///.stack/wecom_state.db` or
                `postgresql+psycopg2://user@host:5432/db`.
            channel: The channel's name (`wecom`); its rows are its own.
            ttl: How long the id of a handled message is kept.
            clock: Aware UTC now (a fake clock in tests).

        Raises:
            ChannelStateError: The channel name is empty or too long.
            sqlalchemy.exc.SQLAlchemyError: The database cannot be reached or created.
        """
        if not channel or len(channel) > MAX_CHANNEL_CHARS:
            raise ChannelStateError(f"a channel name has 1 to {MAX_CHANNEL_CHARS} characters")
        self.channel = channel
        self.owner = secrets.token_hex(8)
        self._ttl = ttl
        self._clock = clock
        self._engine = make_engine(database_url)
        metadata.create_all(self._engine)
        self._sessions = session_factory(self._engine)
        # Message id -> the owner of its abandoned claim, as `claim` saw it (for `adopt`).
        self._abandoned: dict[str, str] = {}

    # -- cursors

    def cursor(self, stream: str) -> str | None:
        """The saved cursor of `stream`, '' for a stream known without one, or None."""
        with transaction(self._sessions) as session:
            return session.execute(
                select(channel_cursors.c.cursor).where(
                    channel_cursors.c.channel == self.channel, channel_cursors.c.stream == _key(stream)
                )
            ).scalar_one_or_none()

    def save_cursor(self, stream: str, cursor: str) -> None:
        """Saves where the pull of `stream` goes on from; '' registers the stream only.

        Raises:
            ChannelStateError: The stream name or the cursor is too long.
        """
        if len(cursor) > MAX_CURSOR_CHARS:
            raise ChannelStateError(f"a cursor has at most {MAX_CURSOR_CHARS} characters")
        where = (channel_cursors.c.channel == self.channel, channel_cursors.c.stream == _key(stream))
        values = {"cursor": cursor, "updated_at": self._clock()}
        for _ in range(2):  # a concurrent first insert makes the second attempt an update
            try:
                with transaction(self._sessions) as session:
                    if session.execute(update(channel_cursors).where(*where).values(**values)).rowcount:
                        return
                    session.execute(
                        insert(channel_cursors).values(channel=self.channel, stream=_key(stream), **values)
                    )
                    return
            except IntegrityError:
                continue
        raise ChannelStateError(f"the cursor of {stream!r} could not be saved")  # pragma: no cover

    def streams(self) -> list[str]:
        """The streams with a saved cursor (e.g. to catch up on them at start)."""
        with transaction(self._sessions) as session:
            return list(
                session.execute(
                    select(channel_cursors.c.stream)
                    .where(channel_cursors.c.channel == self.channel)
                    .order_by(channel_cursors.c.stream)
                ).scalars()
            )

    # -- handled messages

    def claim(self, message_id: str) -> Claim:
        """Takes `message_id` for this store, unless somebody took it before.

        Raises:
            ChannelStateError: The id is empty or too long.
        """
        key = _key(message_id)
        for _ in range(2):  # the row may expire between a failed insert and the read
            try:
                with transaction(self._sessions) as session:
                    session.execute(
                        insert(channel_messages).values(
                            channel=self.channel, message_id=key, owner=self.owner, claimed_at=self._clock()
                        )
                    )
                return Claim.NEW
            except IntegrityError:
                pass
            with transaction(self._sessions) as session:
                row = session.execute(
                    select(channel_messages.c.owner, channel_messages.c.finished_at).where(
                        *self._message(key)
                    )
                ).one_or_none()
            if row is None:
                continue
            if row.finished_at is not None:
                return Claim.HANDLED
            if row.owner == self.owner:
                return Claim.TAKEN
            self._abandoned[key] = row.owner
            return Claim.ABANDONED
        raise ChannelStateError(f"message {message_id!r} could not be claimed")  # pragma: no cover

    def adopt(self, message_id: str) -> bool:
        """Takes over a claim that `claim` found abandoned.

        Returns:
            False if `claim` did not find it abandoned, or somebody adopted or finished it
            since (the owner `claim` saw is compared and swapped atomically).
        """
        key = _key(message_id)
        previous_owner = self._abandoned.pop(key, None)
        if previous_owner is None:
            return False
        with transaction(self._sessions) as session:
            adopted = session.execute(
                update(channel_messages)
                .where(
                    *self._message(key),
                    channel_messages.c.owner == previous_owner,
                    channel_messages.c.finished_at.is_(None),
                )
                .values(owner=self.owner, claimed_at=self._clock())
            ).rowcount
        return bool(adopted)

    def finish(self, message_id: str) -> None:
        """Marks a claimed message as handled (its answer went out, or none is due)."""
        with transaction(self._sessions) as session:
            session.execute(
                update(channel_messages)
                .where(*self._message(_key(message_id)))
                .values(finished_at=self._clock())
            )

    def expire(self) -> int:
        """Forgets message ids claimed longer than the TTL ago; returns how many."""
        cutoff = self._clock() - self._ttl
        with transaction(self._sessions) as session:
            return int(
                session.execute(
                    delete(channel_messages).where(
                        channel_messages.c.channel == self.channel, channel_messages.c.claimed_at < cutoff
                    )
                ).rowcount
            )

    def close(self) -> None:
        """Closes the database connections."""
        self._engine.dispose()

    def _message(self, key: str) -> tuple[object, object]:
        return channel_messages.c.channel == self.channel, channel_messages.c.message_id == key


def _key(value: str) -> str:
    if not value or len(value) > MAX_KEY_CHARS:
        raise ChannelStateError(f"a stream name or message id has 1 to {MAX_KEY_CHARS} characters")
    return value
