"""The record service's settings from the environment: the desk's parts, each checked at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from record_service.desk.agents import token_sha256
from record_service.settings import Settings
from service_common.env import MissingSettingError

DESK_VARIABLES = (
    "RECORDS_AGENTS_FILE", "RECORDS_BOT_URL", "RECORDS_BOT_TOKEN", "RECORDS_HANDOFF_WEBHOOK_URL",
    "RECORDS_HANDOFF_WEBHOOK_SECRET", "RECORDS_CHATWOOT_URL", "RECORDS_CHATWOOT_API_TOKEN",
    "RECORDS_CHATWOOT_ACCOUNT_ID", "RECORDS_CHATWOOT_INBOX_ID", "RECORDS_CHATWOOT_WEBHOOK_TOKEN",
    "RECORDS_DELIVERY_MAX_ATTEMPTS", "RECORDS_DELIVERY_BACKOFF_S", "RECORDS_DELIVERY_POLL_S",
)
CHATWOOT = {
    "RECORDS_CHATWOOT_URL": "https://chatwoot.shop.example/",
    "RECORDS_CHATWOOT_API_TOKEN": "cw-token",
    "RECORDS_CHATWOOT_ACCOUNT_ID": "7",
    "RECORDS_CHATWOOT_INBOX_ID": "3",
    "RECORDS_CHATWOOT_WEBHOOK_TOKEN": "cw-webhook",
}
BOT = {"RECORDS_BOT_URL": "http://127.0.0.1:5005", "RECORDS_BOT_TOKEN": "rasa-token"}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in DESK_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RECORDS_TOKEN", "service-token")
    return monkeypatch


def set_all(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def agents_file(tmp_path: Path) -> Path:
    path = tmp_path / "agents.yaml"
    path.write_text(f"agents:\n  - {{id: xiaowang, name: 客服小王, token_sha256: {token_sha256('t1')}}}\n",
                    encoding="utf-8")
    return path


def test_without_desk_settings_the_desk_is_off(environment: pytest.MonkeyPatch) -> None:
    settings = Settings.from_env()

    assert (settings.agents, settings.bot, settings.webhook, settings.chatwoot) == ((), None, None, None)
    assert settings.handoff_targets == ()


def test_everything_configured(environment: pytest.MonkeyPatch, tmp_path: Path) -> None:
    set_all(environment, {**BOT, **CHATWOOT, "RECORDS_AGENTS_FILE": str(agents_file(tmp_path)),
                          "RECORDS_HANDOFF_WEBHOOK_URL": "https://desk.shop.example/hooks/handoff",
                          "RECORDS_HANDOFF_WEBHOOK_SECRET": "s" * 32, "RECORDS_DELIVERY_MAX_ATTEMPTS": "5"})

    settings = Settings.from_env()

    assert [agent.id for agent in settings.agents] == ["xiaowang"]
    assert settings.bot is not None and settings.bot.url == "http://127.0.0.1:5005"
    assert settings.chatwoot is not None
    assert (settings.chatwoot.url, settings.chatwoot.account_id, settings.chatwoot.inbox_id) == (
        "https://chatwoot.shop.example", 7, 3)
    assert settings.handoff_targets == ("webhook", "chatwoot")
    assert settings.delivery.max_attempts == 5
    shown = repr(settings)
    for secret in ("service-token", "rasa-token", "cw-token", "cw-webhook", "s" * 32):
        assert secret not in shown


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"RECORDS_HANDOFF_WEBHOOK_URL": "https://desk.shop.example/h"}, "RECORDS_HANDOFF_WEBHOOK_SECRET"),
        ({"RECORDS_HANDOFF_WEBHOOK_SECRET": "s" * 32}, "RECORDS_HANDOFF_WEBHOOK_URL"),
        ({"RECORDS_HANDOFF_WEBHOOK_URL": "https://desk.shop.example/h", "RECORDS_HANDOFF_WEBHOOK_SECRET": "short"},
         "RECORDS_HANDOFF_WEBHOOK_SECRET must be at least 16"),
        ({"RECORDS_HANDOFF_WEBHOOK_URL": "desk.shop.example", "RECORDS_HANDOFF_WEBHOOK_SECRET": "s" * 32},
         "RECORDS_HANDOFF_WEBHOOK_URL must be an http(s) URL"),
        ({"RECORDS_BOT_URL": "http://127.0.0.1:5005"}, "RECORDS_BOT_TOKEN"),
        ({**BOT, "RECORDS_CHATWOOT_URL": "https://chatwoot.shop.example"}, "RECORDS_CHATWOOT_API_TOKEN"),
        ({**BOT, **CHATWOOT, "RECORDS_CHATWOOT_ACCOUNT_ID": "seven"}, "RECORDS_CHATWOOT_ACCOUNT_ID must be an integer"),
        (CHATWOOT, "RECORDS_BOT_URL"),
        ({"RECORDS_DELIVERY_MAX_ATTEMPTS": "0"}, "RECORDS_DELIVERY_MAX_ATTEMPTS"),
        ({"RECORDS_DELIVERY_BACKOFF_S": "soon"}, "RECORDS_DELIVERY_BACKOFF_S must be a number"),
    ],
)
def test_a_half_configured_part_fails_loudly_naming_the_variable(
    environment: pytest.MonkeyPatch, values: dict[str, str], named: str
) -> None:
    set_all(environment, values)

    with pytest.raises(MissingSettingError, match=named.replace("(", r"\(").replace(")", r"\)")):
        Settings.from_env()


def test_agents_need_the_bot(environment: pytest.MonkeyPatch, tmp_path: Path) -> None:
    environment.setenv("RECORDS_AGENTS_FILE", str(agents_file(tmp_path)))

    with pytest.raises(MissingSettingError, match="RECORDS_BOT_URL is not set"):
        Settings.from_env()
