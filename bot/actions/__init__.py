"""The action server's actions, one module per concern, over typed clients of the order
system and the record service. rasa-sdk registers every action in this package when
started with ``--actions bot.actions``.
"""
