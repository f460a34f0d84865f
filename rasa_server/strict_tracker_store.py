"""Conversations are never kept in memory behind the shopper's back.

Rasa 3.6 wraps every tracker store in `FailSafeTrackerStore`: when the database cannot be
reached, a save goes to an in-process `InMemoryTrackerStore` and a failed read returns no
tracker, so the conversation silently starts again and everything said during the outage
is gone at the next restart. `SQLTrackerStore` also only logs when it cannot create its
tables at start, and the server comes up without its database.

`install_strict_tracker_store` makes both loud:

- at start, a configured SQL tracker store must answer (a connection and its `events`
  table), or Rasa stops with `TrackerStoreUnavailable` naming the database;
- afterwards a failed read or save fails that turn (the channel answers with its error
  message, the shopper's message is not recorded half-way) instead of falling back;
- a database restarted under a running Rasa costs no turn: a read or write that finds its
  pooled connection closed (SQLAlchemy then discards the whole pool) runs once more on a
  new connection, unless the failure came at the commit itself, when the write may have
  landed. Checking every connection before use (`pool_pre_ping`) would do the same with
  a round trip on each of the two checkouts of every turn.

With no tracker store configured Rasa's in-memory store is still used: that is a choice
written in the endpoints file, not a fallback.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from rasa.core.agent import Agent
from rasa.core.tracker_store import (
    AwaitableTrackerStore,
    FailSafeTrackerStore,
    InMemoryTrackerStore,
    SQLTrackerStore,
    TrackerStore,
)
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException

from rasa_server.event_appends import append_new_events, remember_stored

logger = logging.getLogger(__name__)

EVENTS_TABLE = SQLTrackerStore.SQLEvent.__tablename__
T = TypeVar("T")


class TrackerStoreUnavailable(RasaException):
    """The configured tracker store cannot be reached, or its tables are missing (Rasa's
    CLI prints a `RasaException` as one line and exits with status 1)."""


class TrackerStoreFailed(RasaException):
    """A read or write of one conversation failed in a way Rasa would have exited on."""


class InvalidConversationId(RasaException):
    """A conversation id no store can hold (control characters, over 255 characters)."""


MAX_SENDER_ID_CHARS = 255  # Rasa's `events.sender_id` column
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def check_sender_id(sender_id: str) -> None:
    """Refuses a conversation id before it reaches the database.

    A NUL in it makes SQLite's driver raise ValueError inside Rasa's `session_scope`, which
    takes any ValueError for a missing PostgreSQL schema and exits the whole server: one
    hostile message would stop Rasa for every shopper.

    Raises:
        InvalidConversationId: The id has control characters or is too long.
    """
    if (
        _CONTROL_CHARACTERS.search(sender_id)
        or len(sender_id) > MAX_SENDER_ID_CHARS
        or not _is_utf8(sender_id)
    ):
        raise InvalidConversationId(
            f"a conversation id must be at most {MAX_SENDER_ID_CHARS} characters of UTF-8 "
            "without control characters"
        )


def _is_utf8(text: str) -> bool:
    """False for lone surrogates (JSON may carry them; no database takes them)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class StrictTrackerStore(FailSafeTrackerStore):
    """`FailSafeTrackerStore` without its in-memory fallback: errors reach the turn.

    Conversation ids are checked first (`check_sender_id`). An SQL store appends a
    retrieved conversation's new events without recounting them (`event_appends`).
    """

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        check_sender_id(sender_id)
        with _no_exit():
            tracker = await _once_more_if_disconnected(lambda: self._tracker_store.retrieve(sender_id))
        if tracker is not None and isinstance(_unwrapped(self._tracker_store), SQLTrackerStore):
            remember_stored(tracker)
        return tracker

    async def retrieve_full_tracker(self, sender_id: str) -> DialogueStateTracker | None:
        check_sender_id(sender_id)
        with _no_exit():
            full_history = self._tracker_store.retrieve_full_tracker
            return await _once_more_if_disconnected(lambda: full_history(sender_id))

    async def keys(self) -> Any:
        return await self._tracker_store.keys()

    async def save(self, tracker: DialogueStateTracker) -> None:
        check_sender_id(tracker.sender_id)
        with _no_exit():
            await _once_more_if_disconnected(lambda: self._save(tracker))

    async def _save(self, tracker: DialogueStateTracker) -> None:
        inner = _unwrapped(self._tracker_store)
        if not isinstance(inner, SQLTrackerStore):
            await self._tracker_store.save(tracker)
        elif not await append_new_events(inner, tracker):
            await self._tracker_store.save(tracker)
            remember_stored(tracker)


async def _once_more_if_disconnected(operation: Callable[[], Awaitable[T]]) -> T:
    """Runs `operation` again, once, when its pooled connection turned out to be closed.

    A statement that failed that way ran in a transaction that never committed; a failed
    commit (SQLAlchemy gives it no statement) may have landed, so it is not repeated.
    """
    try:
        return await operation()
    except sa.exc.DBAPIError as error:
        if not (error.connection_invalidated and error.statement is not None):
            raise
        logger.warning("tracker store: the database closed a pooled connection; trying once more")
        return await operation()


@contextmanager
def _no_exit() -> Iterator[None]:
    """Turns Rasa's `sys.exit` inside `SQLTrackerStore.session_scope` (any ValueError there)
    into this turn's failure: one conversation must never stop the server."""
    try:
        yield
    except SystemExit as error:
        raise TrackerStoreFailed("the tracker store refused this conversation's read or write") from error


def _unwrapped(store: TrackerStore) -> TrackerStore:
    while isinstance(store, (AwaitableTrackerStore, FailSafeTrackerStore)):
        store = store._tracker_store
    return store


def check_reachable(store: TrackerStore) -> None:
    """Raises `TrackerStoreUnavailable` unless an SQL store's database and table answer.

    Other kinds of store are not checked here (Rasa's own constructors connect to them).
    """
    inner = _unwrapped(store)
    if not isinstance(inner, SQLTrackerStore):
        return
    url = inner.engine.url.render_as_string(hide_password=True)
    try:
        with inner.engine.connect() as connection:
            if not sa.inspect(connection).has_table(EVENTS_TABLE):
                raise TrackerStoreUnavailable(
                    f"the tracker store's database {url} has no `{EVENTS_TABLE}` table "
                    "(Rasa could not create it: see the error logged above)"
                )
    except sa.exc.SQLAlchemyError as error:
        raise TrackerStoreUnavailable(
            f"the tracker store's database {url} cannot be reached: {type(error).__name__}: {error}"
        ) from error


def _create_tracker_store(store: TrackerStore | None, domain: Domain) -> TrackerStore:
    """`Agent._create_tracker_store`, strict: checked at start, no fallback afterwards."""
    if store is None:
        store = InMemoryTrackerStore(domain)
    else:
        store.domain = domain
        check_reachable(store)
    return StrictTrackerStore(store)


def install_strict_tracker_store() -> None:
    """Replaces the agent's tracker-store factory (before Rasa's server starts)."""
    Agent._create_tracker_store = staticmethod(_create_tracker_store)
