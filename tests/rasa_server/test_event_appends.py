import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from rasa_server.event_appends import remember_stored, stored_events
from rasa_server.strict_tracker_store import StrictTrackerStore

DOMAIN = Domain.from_yaml("version: '3.1'\nintents: [check_refund_status]\nslots:\n  order_id:\n    type: text\n    mappings: []\n")


def store_at(path: Path) -> StrictTrackerStore:
    sql = SQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(path))
    return StrictTrackerStore(sql)


def rows(path: Path) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        result = connection.execute(
            sa.text("SELECT sender_id, type_name, intent_name, action_name, data FROM events ORDER BY id")
        )
        return [tuple(row) for row in result]


def turn(text: str, order_id: str) -> list[Any]:
    intent = {"name": "check_refund_status", "confidence": 0.98}
    return [
        UserUttered(text, intent, [], {"text": text, "intent": intent, "entities": []}),
        ActionExecuted("order_form"),
        SlotSet("order_id", order_id),
        BotUttered("请告诉我手机号后四位", {"utter_action": "utter_ask_phone"}),
        ActionExecuted("action_listen"),
    ]


def test_a_retrieved_conversation_appends_only_its_new_events(tmp_path: Path) -> None:
    store = store_at(tmp_path / "tracker.db")
    first = DialogueStateTracker.from_events("shopper", [ActionExecuted("action_listen"), *turn("退款", "6600002003")])
    asyncio.run(store.save(first))

    tracker = asyncio.run(store.retrieve("shopper"))
    assert tracker is not None and stored_events(tracker) == 6
    for event in turn("还没到", "6600002004"):
        tracker.update(event)
    asyncio.run(store.save(tracker))
    asyncio.run(store.save(tracker))  # nothing new: nothing written twice

    again = asyncio.run(store.retrieve("shopper"))
    assert again is not None
    assert [event.as_dict() for event in again.events] == [event.as_dict() for event in tracker.events]
    assert len(rows(tmp_path / "tracker.db")) == 11
    assert again.get_slot("order_id") == "6600002004"


def test_the_rows_are_those_rasa_writes(tmp_path: Path) -> None:
    events = [ActionExecuted("action_listen"), *turn("退款", "6600002003")]
    rasa_path, ours_path = tmp_path / "rasa.db", tmp_path / "ours.db"
    sql = SQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(rasa_path))
    asyncio.run(sql.save(DialogueStateTracker.from_events("shopper", events)))

    ours = store_at(ours_path)
    asyncio.run(ours.save(DialogueStateTracker.from_events("shopper", events[:1])))
    tracker = asyncio.run(ours.retrieve("shopper"))
    assert tracker is not None
    for event in events[1:]:
        tracker.update(event)
    asyncio.run(ours.save(tracker))

    assert rows(ours_path) == rows(rasa_path)


def test_a_new_session_in_the_turn_is_appended_after_the_old_one(tmp_path: Path) -> None:
    store = store_at(tmp_path / "tracker.db")
    asyncio.run(store.save(DialogueStateTracker.from_events("shopper", turn("退款", "6600002003"))))
    tracker = asyncio.run(store.retrieve("shopper"))
    assert tracker is not None
    tracker.update(SessionStarted())
    for event in turn("我要退货", "6600002005"):
        tracker.update(event)
    asyncio.run(store.save(tracker))

    assert len(rows(tmp_path / "tracker.db")) == 11
    latest = asyncio.run(store.retrieve("shopper"))
    assert latest is not None and isinstance(latest.events[0], SessionStarted)


def test_a_tracker_the_store_did_not_return_is_saved_by_rasa_s_count(tmp_path: Path) -> None:
    store = store_at(tmp_path / "tracker.db")
    asyncio.run(store.save(DialogueStateTracker.from_events("shopper", turn("退款", "6600002003"))))

    # Another object for the same conversation, holding the stored events and one more.
    other = DialogueStateTracker.from_events("shopper", [*turn("退款", "6600002003"), ActionExecuted("action_listen")])
    assert stored_events(other) is None
    asyncio.run(store.save(other))

    assert len(rows(tmp_path / "tracker.db")) == 6
    assert stored_events(other) == 6


def test_a_note_larger_than_the_tracker_is_ignored() -> None:
    tracker = DialogueStateTracker.from_events("shopper", turn("退款", "6600002003"))
    remember_stored(tracker)
    assert stored_events(tracker) == 5
    tracker.__dict__["_aftersales_stored_events"] = 9

    assert stored_events(tracker) is None
