"""The shop's input channels by the names Rasa knows them, and which carry an agent's words.

The bot and the record service both meet these names: a tracker's latest input channel,
a ticket's ``channel``. They are written here once.
"""

from __future__ import annotations

from typing import Final

WIDGET_CHANNEL: Final = "widget"
WECHAT_CHANNEL: Final = "wechat"
WECOM_CHANNEL: Final = "wecom"
IVR_CHANNEL: Final = "ivr"
# Rasa's REST webhook (channels/rest.py); also the channel of a message that names none.
REST_CHANNEL: Final = "rest"

# The channels whose Rasa input channel delivers a message written outside a bot turn, so
# an agent's reply reaches the shopper: the bot pauses for an agent only on these, and the
# desk refuses replies on the others, where they would be logged and never reach the
# shopper. The phone line transfers the call instead; the REST webhook has nobody
# listening; WeCom's own 客服 console would take over there (not wired yet).
RELAYED_CHANNELS: frozenset[str] = frozenset({WIDGET_CHANNEL, WECHAT_CHANNEL})
