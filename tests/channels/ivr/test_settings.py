"""The phone line's settings from credentials.yml: valid values pass, anything else stops the start."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa.core.run import create_http_input_channels
from rasa.shared.exceptions import RasaException

from channels.common.channel_texts import ChannelTextsError
from channels.common.shared_state import SharedState
from channels.ivr import IvrInput
from channels.ivr.settings import (
    DEFAULT_CONFIDENCE_THRESHOLD,
    DEFAULT_MAX_CLOCK_SKEW_S,
    DEFAULT_TRANSFER_QUEUE,
    IvrConfigError,
    IvrSettings,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
TOKEN = secrets.token_urlsafe(24)  # generated: no secret-looking literal in the repo
VALID: dict[str, Any] = {"token": TOKEN}


def test_valid_credentials_and_defaults() -> None:
    settings = IvrSettings.from_credentials(VALID)
    assert settings == IvrSettings(
        token=TOKEN,
        confidence_threshold=DEFAULT_CONFIDENCE_THRESHOLD,
        transfer_queue=DEFAULT_TRANSFER_QUEUE,
        max_clock_skew_s=DEFAULT_MAX_CLOCK_SKEW_S,
    )
    assert TOKEN not in repr(settings)


def test_optional_values() -> None:
    settings = IvrSettings.from_credentials(
        {**VALID, "confidence_threshold": "0.75", "transfer_queue": "vip-queue", "max_clock_skew_seconds": 60}
    )
    assert (settings.confidence_threshold, settings.transfer_queue, settings.max_clock_skew_s) == (
        0.75,
        "vip-queue",
        60.0,
    )


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"token": ""}, "IVR_TOKEN"),
        ({"token": None}, "IVR_TOKEN"),
        ({"token": "short"}, "IVR_TOKEN"),
        ({"token": "has a space inside it 0123456789abcdef"}, "IVR_TOKEN"),
        ({"confidence_threshold": "high"}, "confidence_threshold"),
        ({"confidence_threshold": 1.5}, "confidence_threshold"),
        ({"confidence_threshold": 0}, "confidence_threshold"),
        ({"confidence_threshold": "nan"}, "confidence_threshold"),
        ({"confidence_threshold": True}, "confidence_threshold"),
        ({"transfer_queue": "queue with spaces"}, "transfer_queue"),
        ({"max_clock_skew_seconds": -1}, "max_clock_skew_seconds"),
        ({"max_clock_skew_seconds": 86400}, "max_clock_skew_seconds"),
    ],
)
def test_a_missing_or_malformed_value_is_named(changes: dict[str, Any], named: str) -> None:
    with pytest.raises(IvrConfigError, match=named):
        IvrSettings.from_credentials({**VALID, **changes})


def test_the_channel_needs_its_section() -> None:
    with pytest.raises(RasaException):
        IvrInput.from_credentials(None)


@pytest.fixture
def credentials_environment(credentials_environment: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The shared credentials environment, with this module's IVR token."""
    credentials_environment.setenv("IVR_TOKEN", TOKEN)
    return credentials_environment


def test_rasa_builds_the_channel_from_the_projects_credentials_file(
    credentials_environment: pytest.MonkeyPatch,
) -> None:
    section = yaml.safe_load((REPO_ROOT / "credentials.yml").read_text())["channels.ivr.IvrInput"]
    assert section == {"token": "${IVR_TOKEN}"}
    channels = create_http_input_channels(None, str(REPO_ROOT / "credentials.yml"))
    [ivr] = [channel for channel in channels if isinstance(channel, IvrInput)]
    assert ivr.settings.token == TOKEN


def test_the_calls_memory_is_where_the_environment_says(credentials_environment: pytest.MonkeyPatch) -> None:
    credentials_environment.delenv("CHANNEL_STATE_REDIS_URL", raising=False)
    credentials_environment.delenv("CHANNEL_STATE_KEY_PREFIX", raising=False)
    channel = IvrInput.from_credentials(VALID)
    assert isinstance(channel, IvrInput) and channel.shared_state == SharedState(None, "aftersales")
    credentials_environment.setenv("CHANNEL_STATE_REDIS_URL", "redis://redis:6379/1")
    credentials_environment.setenv("CHANNEL_STATE_KEY_PREFIX", "shop7")
    channel = IvrInput.from_credentials(VALID)
    assert isinstance(channel, IvrInput) and channel.shared_state == SharedState("redis://redis:6379/1", "shop7")
    credentials_environment.setenv("CHANNEL_STATE_REDIS_URL", "http://redis:6379")
    with pytest.raises(IvrConfigError, match="CHANNEL_STATE_REDIS_URL must be a redis:// URL"):
        IvrInput.from_credentials(VALID)


@pytest.mark.parametrize("variable", ["IVR_TOKEN"])
def test_rasa_stops_naming_the_variable_when_it_is_not_set(
    variable: str, credentials_environment: pytest.MonkeyPatch
) -> None:
    credentials_environment.delenv(variable)
    with pytest.raises(RasaException, match=variable):
        create_http_input_channels(None, str(REPO_ROOT / "credentials.yml"))


def test_a_channel_text_missing_from_the_domain_stops_the_start(tmp_path: Path) -> None:
    domain = tmp_path / "domain.yml"
    domain.write_text('responses:\n  utter_channel_ivr_no_input:\n    - text: "抱歉，我没有听清。"\n')
    from channels.common.channel_texts import ChannelTexts
    from channels.ivr.channel import CHANNEL_TEXTS

    with pytest.raises(ChannelTextsError, match="utter_channel_ivr_confirm_order_id"):
        ChannelTexts.load(CHANNEL_TEXTS, domain)
