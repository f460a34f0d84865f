"""The desk's Rasa client against the fake Rasa 3.6 HTTP API, and the conversation view."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from record_service.desk.agents import ExternalAgent
from record_service.desk.bot import (
    MAX_CONVERSATION_MESSAGES,
    BotClient,
    BotRejectedError,
    BotUnavailableError,
    conversation_view,
)
from tests.fixtures.desk import new_id
from tests.fixtures.fake_rasa import FakeRasa

AGENT = ExternalAgent("xiaowang", "客服小王")


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def bot(fake_rasa: FakeRasa, sleeps: list[float]) -> Iterator[BotClient]:
    client = BotClient(fake_rasa.url, fake_rasa.token, attempts=3, backoff_s=0.25, sleep=sleeps.append)
    yield client
    client.close()


def test_each_call_speaks_rasas_http_api(bot: BotClient, fake_rasa: FakeRasa) -> None:
    conversation_id = new_id("wx/中文 id")
    fake_rasa.seed(conversation_id, "wecom", [("user", "人工")])

    tracker = bot.tracker(conversation_id)
    bot.pause(conversation_id)
    bot.say(conversation_id, "您好", AGENT)
    bot.resume(conversation_id)
    bot.run_action(conversation_id, "action_ask_satisfaction")

    assert tracker["sender_id"] == conversation_id
    assert [(c.method, c.route, c.query, c.body) for c in fake_rasa.calls_for(conversation_id)] == [
        ("GET", "tracker", {}, None),
        ("POST", "tracker/events", {}, {"event": "pause"}),
        ("POST", "tracker/events", {"output_channel": "latest", "execute_side_effects": "true"},
         {"event": "bot", "text": "您好", "metadata": {"agent_id": "xiaowang", "agent_name": "客服小王"}}),
        ("POST", "tracker/events", {}, {"event": "resume"}),
        ("POST", "execute", {"output_channel": "latest"}, {"name": "action_ask_satisfaction"}),
    ]
    assert [(m.channel, m.text) for m in fake_rasa.sent_to(conversation_id)] == [("wecom", "您好")]


def test_a_wrong_token_is_rejected_not_retried(fake_rasa: FakeRasa, sleeps: list[float]) -> None:
    client = BotClient(fake_rasa.url, "not-the-token", sleep=sleeps.append)
    conversation_id = new_id("c")

    with pytest.raises(BotRejectedError) as raised:
        client.pause(conversation_id)

    assert raised.value.status == 401
    assert sleeps == []
    assert "not-the-token" not in str(raised.value)


def test_an_unknown_conversation_cannot_run_an_action(bot: BotClient) -> None:
    with pytest.raises(BotRejectedError) as raised:
        bot.run_action(new_id("never-seen"), "action_ask_satisfaction")

    assert raised.value.status == 404


def test_repeatable_calls_are_retried_with_backoff(bot: BotClient, fake_rasa: FakeRasa, sleeps: list[float]) -> None:
    conversation_id = new_id("c")
    fake_rasa.fail_next(2, route="tracker/events")

    bot.pause(conversation_id)

    assert sleeps == [0.25, 0.5]
    assert fake_rasa.is_paused(conversation_id)


def test_a_reply_is_sent_once_even_if_rasa_fails(bot: BotClient, fake_rasa: FakeRasa, sleeps: list[float]) -> None:
    conversation_id = new_id("c")
    fake_rasa.fail_next(1, route="tracker/events")

    with pytest.raises(BotUnavailableError):
        bot.say(conversation_id, "您好", AGENT)

    assert sleeps == []
    assert len(fake_rasa.calls_for(conversation_id)) == 1


def test_rasa_down_is_unavailable_after_the_attempts(fake_rasa: FakeRasa, sleeps: list[float]) -> None:
    client = BotClient("http://127.0.0.1:9", fake_rasa.token, attempts=3, backoff_s=0.1, sleep=sleeps.append)

    with pytest.raises(BotUnavailableError) as raised:
        client.resume("c1")

    assert sleeps == [0.1, 0.2]
    assert str(raised.value) == "ConnectionError"  # no URL: it would carry the token


def test_rasa_without_a_model_is_unavailable(bot: BotClient, fake_rasa: FakeRasa) -> None:
    fake_rasa.no_model = True
    try:
        with pytest.raises(BotUnavailableError, match="HTTP 409"):
            bot.tracker("c1")
    finally:
        fake_rasa.no_model = False


@pytest.mark.parametrize(
    ("url", "options"),
    [("ftp://rasa", {}), ("http://rasa", {"attempts": 0}), ("http://rasa", {"read_timeout_s": 0})],
)
def test_bad_client_options_are_refused(url: str, options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        BotClient(url, "t", **options)  # type: ignore[arg-type]


def test_the_conversation_view_shows_who_said_what() -> None:
    tracker = {
        "paused": True,
        "latest_input_channel": "wechat",
        "events": [
            {"event": "action", "name": "action_listen", "timestamp": 1.0},
            {"event": "user", "text": "我要人工", "timestamp": 1714557600.5,
             "metadata": {"account": {"channel": "wechat", "account_id": "oWx_secret_openid"}}},
            {"event": "bot", "text": "正在为您转接", "timestamp": 1714557601, "metadata": {"utter_action": "utter_x"}},
            {"event": "pause", "timestamp": 1714557602},
            {"event": "bot", "text": "我是客服小王", "timestamp": 1714557603,
             "metadata": {"agent_id": "xiaowang", "agent_name": "客服小王"}},
            {"event": "user", "text": "", "timestamp": 1714557604},
            {"event": "bot", "text": None, "timestamp": 1714557605},
            "not an event",
            {"event": "user", "text": "好的", "timestamp": "yesterday", "metadata": "odd"},
        ],
    }

    view = conversation_view(tracker)

    assert view == {
        "paused": True,
        "channel": "wechat",
        "messages": [
            {"role": "shopper", "text": "我要人工", "at": "2024-05-01T10:00:00.500000+00:00", "agent_name": None},
            {"role": "bot", "text": "正在为您转接", "at": "2024-05-01T10:00:01+00:00", "agent_name": None},
            {"role": "agent", "text": "我是客服小王", "at": "2024-05-01T10:00:03+00:00", "agent_name": "客服小王"},
            {"role": "shopper", "text": "好的", "at": None, "agent_name": None},
        ],
    }
    assert "oWx_secret_openid" not in str(view)


def test_the_conversation_view_keeps_the_latest_messages_and_survives_nonsense() -> None:
    events = [{"event": "user", "text": f"第{n}条", "timestamp": n} for n in range(MAX_CONVERSATION_MESSAGES + 5)]

    view = conversation_view({"events": events})

    assert len(view["messages"]) == MAX_CONVERSATION_MESSAGES
    assert view["messages"][0]["text"] == "第5条"
    assert conversation_view({"events": "nope", "paused": "yes", "latest_input_channel": 3}) == {
        "paused": True, "channel": None, "messages": []}
