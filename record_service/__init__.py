"""The record service: an append-only archive of the bot's decisions and its tickets."""
