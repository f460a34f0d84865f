"""The agent workspace page of the human-handoff desk, served by the record service.

    GET /desk/                   the page (index.html)
    GET /desk                    redirects to /desk/, so the page's relative links resolve
    GET /desk/static/<name>      its stylesheet and script

The page is static and holds no data: it needs no token, while the desk JSON API it
calls (/desk/api/...) needs the agent's. Only the files named in `ASSETS` are served,
read once when the routes are added, so no request path ever reaches the file system.
"""

from __future__ import annotations

from pathlib import Path

from sanic import Sanic
from sanic.exceptions import NotFound
from sanic.request import Request
from sanic.response import HTTPResponse, raw, redirect

PAGE_PATH = "/desk/"
STATIC_PREFIX = "/desk/static/"
# File name -> content type; the only assets the page has.
ASSETS = {
    "desk.css": "text/css; charset=utf-8",
    "desk.js": "text/javascript; charset=utf-8",
}
# Paths that must stay open to a browser without a token (for the app's auth middleware).
DESK_PAGE_PATHS = ("/desk", PAGE_PATH, *(STATIC_PREFIX + name for name in ASSETS))

# Same-origin everything; no inline script or style, so injected markup cannot run.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_FILES_DIR = Path(__file__).resolve().parent


def add_desk_page_routes(app: Sanic) -> None:
    """Adds the workspace page and its assets to `app`.

    Raises:
        FileNotFoundError: A file of the page is missing from the package (at start, not
            at the first request).
    """
    page = (_FILES_DIR / "index.html").read_bytes()
    assets = {name: ((_FILES_DIR / name).read_bytes(), kind) for name, kind in ASSETS.items()}

    async def desk_page(request: Request) -> HTTPResponse:
        return raw(page, content_type="text/html; charset=utf-8", headers={**SECURITY_HEADERS})

    async def desk_redirect(request: Request) -> HTTPResponse:
        # A copy: `redirect` adds its Location header to the dict it is given.
        return redirect(PAGE_PATH, headers={**SECURITY_HEADERS})

    async def desk_asset(request: Request, name: str) -> HTTPResponse:
        if name not in assets:
            raise NotFound("no such resource")
        body, content_type = assets[name]
        return raw(body, content_type=content_type, headers={**SECURITY_HEADERS})

    app.add_route(desk_page, PAGE_PATH, methods=["GET"], strict_slashes=True, name="desk_page")
    app.add_route(desk_redirect, "/desk", methods=["GET"], strict_slashes=True, name="desk_redirect")
    app.add_route(desk_asset, STATIC_PREFIX + "<name:str>", methods=["GET"], name="desk_asset")
