"""openapi.yaml describes exactly the routes the record service serves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from sanic import Sanic

from record_service.app import create_app
from record_service.settings import Settings

OPENAPI = Path(__file__).resolve().parents[2] / "record_service" / "openapi.yaml"


def test_openapi_lists_every_route_and_method(monkeypatch: pytest.MonkeyPatch) -> None:
    # Test mode lets the app name be registered again if another test created the app.
    monkeypatch.setattr(Sanic, "test_mode", True)
    app = create_app(Settings(token="unused"))
    served = {
        (re.sub(r"<(\w+):\w+>", r"{\1}", "/" + route.path), method.lower())
        for route in app.router.routes
        for method in route.methods
    }
    spec = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))

    documented = {(path, method) for path, item in spec["paths"].items() for method in item}

    assert spec["openapi"].startswith("3.0")
    assert documented == served


def test_every_reference_resolves() -> None:
    text = OPENAPI.read_text(encoding="utf-8")
    spec = yaml.safe_load(text)

    for reference in re.findall(r'\$ref: "#/([^"]+)"', text):
        node = spec
        for part in reference.split("/"):
            node = node[part]
        assert node
