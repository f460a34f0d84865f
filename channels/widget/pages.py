"""The widget's HTTP side as pure functions: the demo shop page and the headers it and
the widget bundle are served with."""

from __future__ import annotations

import html
import re
import string
from pathlib import Path

WIDGET_DIR = Path(__file__).resolve().parent
WIDGET_BUNDLE = WIDGET_DIR / "web" / "dist" / "widget.js"
DEMO_TEMPLATE = WIDGET_DIR / "demo.html"
BUNDLE_MISSING = (
    "The web widget is not built: channels/widget/web/dist/widget.js is missing. "
    "Run `make setup` (or `npm ci && npm run build` in channels/widget/web)."
)
_HOST_PATTERN = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


def request_origin(scheme: str, host: str) -> str | None:
    """The origin a request was made to (`http://host:port`), or None for a malformed Host."""
    if scheme not in ("http", "https") or not _HOST_PATTERN.fullmatch(host):
        return None
    return f"{scheme}://{host.lower()}"


def demo_page_html(
    template: str, server_origin: str, account_id: str | None, shopper_token: str | None
) -> str:
    """The demo shop page: `template` (demo.html) with the widget's one script tag filled in.

    Args:
        template: The page template, with `$server`, `$shopper_token_attribute`,
            `$logged_in` and `$account` placeholders.
        server_origin: The Rasa server's origin, the widget's `data-server`.
        account_id: The demo login's web account, or None for an anonymous visit.
        shopper_token: The shopper token signed for that account, or None.
    """
    token_attribute = f' data-shopper-token="{html.escape(shopper_token)}"' if shopper_token else ""
    return string.Template(template).substitute(
        server=html.escape(server_origin),
        shopper_token_attribute=token_attribute,
        logged_in="true" if account_id else "false",
        account=html.escape(account_id or ""),
    )


def demo_page_headers(server_origin: str) -> dict[str, str]:
    """Security headers of the demo page: only the page's own origin may run scripts or be
    connected to (the widget's socket included), and the page carries a token: no caching,
    no framing, no referrer."""
    socket_origin = server_origin.replace("http", "ws", 1)
    policy = "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            # The widget styles its elements at run time.
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src 'self' {socket_origin}",
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def bundle_headers() -> dict[str, str]:
    """Headers of widget.js: embeddable from the shop's pages, revalidated on every load."""
    return {
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "Cache-Control": "no-cache",
    }
