"""What the project's HTTP services share: settings from the environment, PII-safe logging, Sanic plumbing."""
