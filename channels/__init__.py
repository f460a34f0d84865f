"""The project's Rasa input channels (configured in credentials.yml)."""
