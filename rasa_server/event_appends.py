"""A conversation's new events appended to Rasa's SQL tracker store without recounting.

`SQLTrackerStore.save` (Rasa 3.6) finds the events it has not stored yet by counting, in
the database, the conversation's events since its latest session start (a query with a
sub-query on every save), then adds them one ORM object at a time. The tracker it saves
was read from the same store at the start of the turn, under the conversation's lock, so
the count is already known: the number of events that read returned.

`remember_stored` notes that number on a tracker the store returned; `append_new_events`
writes only the events after it, in one statement, and notes the new number. A tracker
the store did not return (a new conversation, a full history read across sessions) has no
note and is saved by Rasa's own method. The rows are the ones Rasa writes.
"""

from __future__ import annotations

import json
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

# Kept in the tracker's __dict__: copied with the tracker (`copy.deepcopy`), never
# serialised (Rasa serialises a tracker through its events, not its attributes).
_STORED_EVENTS = "_aftersales_stored_events"


def remember_stored(tracker: DialogueStateTracker) -> None:
    """Notes that every event of `tracker`, as the store returned it, is stored."""
    tracker.__dict__[_STORED_EVENTS] = len(tracker.events)


def stored_events(tracker: DialogueStateTracker) -> int | None:
    """How many of the tracker's first events are known to be stored, if known."""
    count = tracker.__dict__.get(_STORED_EVENTS)
    return count if isinstance(count, int) and 0 <= count <= len(tracker.events) else None


def event_row(sender_id: str, event_data: dict[str, Any], type_name: str) -> dict[str, Any]:
    """One `events` row, with the columns `SQLTrackerStore.save` fills."""
    return {
        "sender_id": sender_id,
        "type_name": type_name,
        "timestamp": event_data.get("timestamp"),
        "intent_name": event_data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
        "action_name": event_data.get("name"),
        "data": json.dumps(event_data),
    }


async def append_new_events(store: SQLTrackerStore, tracker: DialogueStateTracker) -> bool:
    """Stores the events after the noted count, if the tracker has one.

    Returns:
        True when saved here; False when the tracker has no note (the caller saves it with
        Rasa's method, then calls `remember_stored`).
    """
    count = stored_events(tracker)
    if count is None:
        return False
    await store.stream_events(tracker)
    events = list(tracker.events)[count:]
    if events:
        rows = [event_row(tracker.sender_id, event.as_dict(), event.type_name) for event in events]
        with store.session_scope() as session:
            session.execute(SQLTrackerStore.SQLEvent.__table__.insert(), rows)
            session.commit()
    remember_stored(tracker)
    return True
