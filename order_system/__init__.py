"""The reference order system: an HTTP JSON service with the shop's orders (see openapi.yaml)."""
