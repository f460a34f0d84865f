"""The action server's code: clients for the order system and the record service.

The custom actions themselves are added here later; rasa-sdk loads this package with
``--actions bot.actions``.
"""
