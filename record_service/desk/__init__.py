"""The human-handoff desk: agents take handed-off conversations, talk to the shopper on the
shopper's own channel through the Rasa server, and give them back to the bot.

`agents` (who may use the desk), `bot` (the Rasa HTTP API client), `repository` (claims,
audit, queue), `workflow` (each agent action: check, ask the bot, record), `api` (the
HTTP routes), `outbox` (delivery to external help desks), `signing` (the webhook's
signature) and `chatwoot` (the Chatwoot adapter).
"""
