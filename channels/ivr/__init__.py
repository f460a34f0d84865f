"""Phone line (IVR) input channel: `channels.ivr.IvrInput`.

The IVR platform posts each turn of a call to `/webhooks/ivr/turn` as JSON (call id,
turn id, the caller's number, the ASR transcript with its confidence, DTMF keys), with
`Authorization: Bearer <IVR_TOKEN>`, and gets back what to say (speakable text) and what
to do with the call (`continue`, `transfer` to a human queue with the handoff context,
`hangup`). The JSON both ways is in `channels/ivr/README.md`. The caller's number is
vouched for by the telephone network: each bot turn carries
`{"account": {"channel": "phone", "account_id": <number>}}`, which identifies the shopper
when it is the order's phone.

Modules: `settings` (credentials.yml), `protocol` (the JSON, pure), `inbound` (what a
turn means: keys, confirmation of digits heard with low confidence), `render` (speakable
answers), `calls` (per-call memory, in the channels' shared state so that any Rasa
process answers any turn), `channel` (the Rasa input and output channels; a transfer's
handoff context comes with the bot's message, `service_common/channel_metadata.py`).
"""

from channels.ivr.channel import IvrInput, IvrOutput

__all__ = ["IvrInput", "IvrOutput"]
