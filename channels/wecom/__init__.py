"""WeCom customer service (微信客服) input channel: `channels.wecom.WeComInput`.

WeChat users reach a company's customer-service account (from an official account, a
mini program, a link or a QR code); WeCom tells the company's callback URL
(`/webhooks/wecom/callback`) that an account has news with a signed, encrypted
`kf_msg_or_event` event, and the channel pulls the messages with `kf/sync_msg` from a
cursor kept in a SQL database, runs one bot turn per message and answers with
`kf/send_msg`. Each turn carries `{"account": {"channel": "wecom", "account_id":
external_userid}}` in its metadata.

Modules: `settings` (credentials.yml), `protocol` (pure protocol functions), `api`
(access token, sync_msg, send_msg), `pulls` (one pull per account at a time), `puller`
(one turn per message, durably), `channel` (the Rasa input channel).
"""

from channels.wecom.channel import WeComInput

__all__ = ["WeComInput"]
