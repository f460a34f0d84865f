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
  message, the shopper's message is not recorded half-way) instead of falling back.

With no tracker store configured Rasa's in-memory store is still used: that is a choice
written in the endpoints file, not a fallback.
"""

from __future__ import annotations

from typing import Any

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

EVENTS_TABLE = SQLTrackerStore.SQLEvent.__tablename__


class TrackerStoreUnavailable(RasaException):
    """The configured tracker store cannot be reached, or its tables are missing (Rasa's
    CLI prints a `RasaException` as one line and exits with status 1)."""


class StrictTrackerStore(FailSafeTrackerStore):
    """`FailSafeTrackerStore` without its in-memory fallback: errors reach the turn."""

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        return await self._tracker_store.retrieve(sender_id)

    async def retrieve_full_tracker(self, sender_id: str) -> DialogueStateTracker | None:
        return await self._tracker_store.retrieve_full_tracker(sender_id)

    async def keys(self) -> Any:
        return await self._tracker_store.keys()

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self._tracker_store.save(tracker)


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
