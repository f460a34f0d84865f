"""Web chat widget input channel: `channels.widget.WidgetInput`.

A shop embeds the widget (built from `channels/widget/web/`, served at
`/webhooks/widget/widget.js`) with one script tag; it talks to this channel over
socket.io at `/webhooks/widget/socket.io/`. A logged-in shopper comes with a token the
shop signs (JWT HS256, shared WIDGET_SECRET); each turn then carries
`{"account": {"channel": "web", "account_id": <sub>}}` in its metadata, which the action
server trusts for identity. An anonymous shopper verifies with phone digits. The server,
never the browser, picks the conversation id and binds it into a session token it signs.

Modules: `settings` (credentials.yml), `tokens` (shopper and session tokens), `protocol`
(the socket.io events), `pages` (demo page and bundle), `channel` (the Rasa input and
output channels).
"""

from channels.widget.channel import WidgetInput, WidgetOutput

__all__ = ["WidgetInput", "WidgetOutput"]
