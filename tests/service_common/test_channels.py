"""The channel names the bot, the channels and the record service share."""

from __future__ import annotations

from service_common.channels import (
    IVR_CHANNEL,
    RELAYED_CHANNELS,
    REST_CHANNEL,
    WECHAT_CHANNEL,
    WECOM_CHANNEL,
    WIDGET_CHANNEL,
)


def test_channel_names_are_the_rasa_input_channels_names() -> None:
    assert (WIDGET_CHANNEL, WECHAT_CHANNEL, WECOM_CHANNEL, IVR_CHANNEL, REST_CHANNEL) == (
        "widget",
        "wechat",
        "wecom",
        "ivr",
        "rest",
    )


def test_only_the_widget_and_wechat_relay_an_agents_words() -> None:
    assert RELAYED_CHANNELS == frozenset({"widget", "wechat"})
