"""WeChat Official Account (公众号) input channel: `channels.wechat.WeChatInput`.

WeChat pushes each message a shopper sends to the account's server URL
(`/webhooks/wechat/webhook`) as signed XML, in plain or secure (AES) mode, gives up after
5 seconds and retries up to three times. The channel verifies and decrypts the push,
runs exactly one bot turn per message, and answers passively (reply XML) when the bot is
fast enough, else answers `success` and sends the answer through the customer-service
message API. Each turn carries `{"account": {"channel": "wechat", "account_id": openid}}`
in its metadata, which the action server trusts for identity. What it remembers between
pushes is in the channels' shared state (Redis with `CHANNEL_STATE_REDIS_URL`), so several
Rasa processes can serve one account: one turn per push wherever its copies land.

Modules: `settings` (credentials.yml), `protocol` (pure protocol functions), `delivery`
(one turn per push), `api` (access token and customer-service messages), `channel`
(the Rasa input and output channels).
"""

from channels.wechat.channel import WeChatInput, WeChatOutput

__all__ = ["WeChatInput", "WeChatOutput"]
