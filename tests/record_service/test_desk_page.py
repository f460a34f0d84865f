"""The desk's agent workspace page: how it is served, and what an agent can do with it.

The serving tests run a Sanic app with only `add_desk_page_routes`. The browser tests run
the page in headless Chromium against an in-test fake of the desk JSON API that answers
with the shapes and error codes of record_service/desk/api.py, so the page is tested
without Rasa or a database. Screenshots go to results/screenshots/desk-*.png.
"""

from __future__ import annotations

import asyncio
import http.client
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import yaml
from playwright.sync_api import expect
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json

from record_service.desk_page import ASSETS, CONTENT_SECURITY_POLICY, DESK_PAGE_PATHS, add_desk_page_routes
from record_service.settings import DEFAULT_PORT
from service_common.http import ApiError, install_json_errors
from tests.fixtures.browser import SCREENSHOTS, Browser
from tests.fixtures.servers import REPO_ROOT, free_port

TIMEOUT_S = 10
PAGE_DIR = REPO_ROOT / "record_service" / "desk_page"


# ------------------------------------------------------------------ a Sanic app in a thread


class ServedApp:
    """Serves a Sanic app on 127.0.0.1 from a background thread with its own event loop."""

    def __init__(self, app: Sanic, port: int | None = None) -> None:
        self.app = app
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=f"serve-{app.name}", daemon=True)

    def start(self) -> ServedApp:
        # Several apps start in this process: in test mode, Sanic rewrites its HTTP class at
        # start from the original code each time rather than from the previous app's rewrite.
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Sanic, "test_mode", True)
            self._thread.start()
            started = self._ready.wait(TIMEOUT_S)
        if not started or self._error is not None:
            raise RuntimeError(f"the test server did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(TIMEOUT_S)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            server = self._loop.run_until_complete(
                self.app.create_server(
                    host="127.0.0.1", port=self.port, return_asyncio_server=True, access_log=False
                )
            )
            assert server is not None  # listening already: create_server awaited it
            self._loop.run_until_complete(server.startup())
            self._loop.run_until_complete(server.before_start())
            self._loop.run_until_complete(server.after_start())
        except BaseException as error:
            self._error = error
            self._ready.set()
            raise
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(server.before_stop())
        server.close()
        self._loop.run_until_complete(server.wait_closed())
        # The browser's keep-alive connections: dropped, and their tasks ended, before the
        # loop closes (a task left pending would try to use the closed loop later).
        for connection in list(server.connections):
            connection.abort()
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.run_until_complete(server.after_stop())
        self._loop.close()


def new_app(prefix: str) -> Sanic:
    """A Sanic app with the record service's JSON errors; app names are unique per process."""
    app = Sanic(f"{prefix}_{uuid.uuid4().hex[:8]}", configure_logging=False)
    install_json_errors(app)
    return app


@pytest.fixture(scope="module")
def page_server() -> Iterator[ServedApp]:
    """An app with nothing but the desk page's routes."""
    app = new_app("desk_page")
    add_desk_page_routes(app)
    served = ServedApp(app).start()
    yield served
    served.stop()


def raw_get(server: ServedApp, path: str) -> tuple[int, dict[str, str], bytes]:
    """GET with the path sent exactly as written (requests would remove `..` segments)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT_S)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


# ------------------------------------------------------------------ serving


EXPECTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def assert_security_headers(headers: requests.structures.CaseInsensitiveDict[str]) -> None:
    assert headers["Content-Security-Policy"] == EXPECTED_CSP
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-store"


def test_the_page_is_served_with_the_security_headers_and_no_token(page_server: ServedApp) -> None:
    response = requests.get(f"{page_server.url}/desk/", timeout=TIMEOUT_S)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert_security_headers(response.headers)
    assert "Location" not in response.headers
    assert response.content == (PAGE_DIR / "index.html").read_bytes()
    assert "售后人工客服工作台" in response.text
    assert CONTENT_SECURITY_POLICY == EXPECTED_CSP


def test_desk_without_slash_redirects_to_the_page(page_server: ServedApp) -> None:
    response = requests.get(f"{page_server.url}/desk", timeout=TIMEOUT_S, allow_redirects=False)

    assert response.status_code in (301, 302, 307, 308)
    assert response.headers["Location"] == "/desk/"
    followed = requests.get(f"{page_server.url}/desk", timeout=TIMEOUT_S)
    assert followed.url == f"{page_server.url}/desk/"
    assert followed.status_code == 200


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("desk.css", "text/css; charset=utf-8"), ("desk.js", "text/javascript; charset=utf-8")],
)
def test_assets_are_served_with_their_content_type(
    page_server: ServedApp, name: str, content_type: str
) -> None:
    response = requests.get(f"{page_server.url}/desk/static/{name}", timeout=TIMEOUT_S)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert_security_headers(response.headers)
    assert response.content == (PAGE_DIR / name).read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "/desk/static/../app.py",
        "/desk/static/..%2Fapp.py",
        "/desk/static/%2e%2e%2f%2e%2e%2fapp.py",
        "/desk/static/../../record_service/app.py",
        "/desk/static/index.html",
        "/desk/static/__init__.py",
        "/desk/static/desk.js.map",
        "/desk/static/DESK.JS",
        "/desk/static/",
        "/desk/static/./desk.js",
        "/desk/index.html",
        "/desk/desk.js",
        "/desk/__init__.py",
    ],
)
def test_only_the_known_files_are_served(page_server: ServedApp, path: str) -> None:
    status, headers, body = raw_get(page_server, path)

    assert status == 404, (path, body[:200])
    assert b"import" not in body and b"<html" not in body
    assert headers["content-type"].startswith("application/json")


def test_the_open_paths_are_exactly_the_routes_that_serve_the_page(page_server: ServedApp) -> None:
    # The record service exempts these paths from its service-token check.
    assert set(DESK_PAGE_PATHS) == {"/desk", "/desk/", *(f"/desk/static/{name}" for name in ASSETS)}
    for path in DESK_PAGE_PATHS:
        status, _, _ = raw_get(page_server, path)
        assert status in (200, 302), path


def test_other_methods_are_refused(page_server: ServedApp) -> None:
    response = requests.post(f"{page_server.url}/desk/", data=b"x", timeout=TIMEOUT_S)

    assert response.status_code == 405


class _References(HTMLParser):
    """Collects every URL-bearing attribute and every inline script or style of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href", "action", "formaction", "poster", "data"):
            if values.get(name) is not None:
                self.urls.append(str(values[name]))
        if "style" in values or any(name.startswith("on") for name in values):
            self.inline.append(f"<{tag} {values}>")
        if tag == "style":
            self.inline.append("<style>")
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(f"<script>{data[:40]}")


def test_the_page_references_only_its_own_assets(page_server: ServedApp) -> None:
    page = requests.get(f"{page_server.url}/desk/", timeout=TIMEOUT_S).text
    references = _References()
    references.feed(page)

    assert references.inline == []  # the CSP would block them
    fetched = [url for url in references.urls if not url.startswith("#")]
    assert sorted(fetched) == ["static/desk.css", "static/desk.js"]
    for url in fetched:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc and not url.startswith("/")
        assert requests.get(f"{page_server.url}/desk/{url}", timeout=TIMEOUT_S).status_code == 200
    css = (PAGE_DIR / "desk.css").read_text(encoding="utf-8")
    assert "@import" not in css and "url(" not in css and "@font-face" not in css


def test_the_script_never_writes_markup_or_evaluates_strings() -> None:
    script = (PAGE_DIR / "desk.js").read_text(encoding="utf-8")

    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script, sink
    # Only same-origin, relative API calls.
    assert re.findall(r"fetch\(([^,]+),", script) == ["`api/${path}`"]


def test_a_review_offers_exactly_the_intents_of_the_domain() -> None:
    script = (PAGE_DIR / "desk.js").read_text(encoding="utf-8")
    block = script.split("const INTENTS = {", 1)[1].split("};", 1)[0]
    domain = yaml.safe_load((REPO_ROOT / "domain.yml").read_text(encoding="utf-8"))
    intents = {item if isinstance(item, str) else next(iter(item)) for item in domain["intents"]}

    assert set(re.findall(r"^\s+(\w+):", block, re.MULTILINE)) == intents - {"nlu_fallback"}


# ------------------------------------------------------------------ a fake desk API


@dataclass
class FakeTicket:
    """A handoff ticket of the fake desk, with its live conversation."""

    fields: dict[str, Any]
    context: dict[str, Any]
    messages: list[dict[str, Any]]
    contact_phone: str | None
    assigned_agent: dict[str, str] | None = None
    resolution: str | None = None


@dataclass
class FakeDesk:
    """The desk JSON API in memory, answering as record_service/desk/api.py does.

    Tests steer it: `take_next_claim_for` makes the next claim lose a race to another agent
    (409 `ticket_taken`); `bot_down` makes replies fail with 503 `bot_unreachable` and the
    ticket's conversation unreadable (`conversation: null`).
    """

    agents: dict[str, dict[str, str]]
    tickets: dict[str, FakeTicket]
    calls: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    take_next_claim_for: dict[str, str] | None = None
    bot_down: bool = False

    def agent_of(self, request: Request) -> dict[str, str]:
        header = request.headers.get("authorization") or ""
        agent = self.agents.get(header.removeprefix("Bearer ")) if header.startswith("Bearer ") else None
        if agent is None:
            raise ApiError(401, "unauthorized", "a valid agent token is required")
        return agent

    def ticket_json(self, ticket: FakeTicket) -> dict[str, Any]:
        return {
            **ticket.fields,
            "summary": ticket.context["summary"],
            "contact_masked": ticket.context["contact_masked"],
            "has_contact_phone": ticket.contact_phone is not None,
            "assigned_agent": ticket.assigned_agent,
            "resolution": ticket.resolution,
        }

    def owned(self, ticket_id: str, agent: dict[str, str]) -> FakeTicket:
        ticket = self.find(ticket_id)
        if ticket.fields["status"] == "resolved":
            raise ApiError(409, "ticket_closed", "the ticket is resolved")
        if ticket.assigned_agent is None:
            raise ApiError(409, "ticket_not_assigned", "nobody has taken this ticket: claim it first")
        if ticket.assigned_agent["id"] != agent["id"]:
            raise ApiError(403, "not_your_ticket", "another agent has this ticket")
        return ticket

    def find(self, ticket_id: str) -> FakeTicket:
        if ticket_id not in self.tickets:
            raise ApiError(404, "handoff_not_found", "no such handoff ticket")
        return self.tickets[ticket_id]

    def add_routes(self, app: Sanic) -> None:
        async def me(request: Request) -> HTTPResponse:
            return json(self.agent_of(request))

        async def tickets(request: Request) -> HTTPResponse:
            self.agent_of(request)
            statuses = (request.args.get("status") or "").split(",")
            chosen = [t for t in self.tickets.values() if t.fields["status"] in statuses]
            chosen.sort(key=lambda t: (t.fields["priority"], t.fields["due_at"]))
            return json({"tickets": [self.ticket_json(t) for t in chosen]})

        async def ticket(request: Request, ticket_id: str) -> HTTPResponse:
            self.agent_of(request)
            found = self.find(ticket_id)
            conversation = {"paused": True, "channel": "wechat", "messages": found.messages}
            return json(
                {
                    **self.ticket_json(found),
                    "context": found.context,
                    "conversation": None if self.bot_down else conversation,
                    "conversation_error": "bot_unreachable" if self.bot_down else None,
                }
            )

        async def action(request: Request, ticket_id: str, name: str) -> HTTPResponse:
            agent = self.agent_of(request)
            body = request.json if request.body else {}
            self.calls.append((agent["id"], name, ticket_id, body))
            found = self.find(ticket_id)
            if name == "claim":
                if found.fields["status"] == "resolved":
                    raise ApiError(409, "ticket_closed", "the ticket is resolved")
                if self.take_next_claim_for is not None:
                    found.assigned_agent, self.take_next_claim_for = self.take_next_claim_for, None
                    found.fields["status"] = "assigned"
                if found.assigned_agent is not None and found.assigned_agent["id"] != agent["id"]:
                    raise ApiError(409, "ticket_taken", "another agent has taken this ticket")
                found.assigned_agent = agent
                found.fields["status"] = "assigned"
            elif name == "reply":
                text = body.get("text")
                if not isinstance(text, str) or not text.strip() or len(text) > 2000:
                    raise ApiError(422, "invalid_text", "text must be a message of 1 to 2000 characters")
                self.owned(ticket_id, agent)
                if self.bot_down:
                    raise ApiError(
                        503, "bot_unreachable", "the bot cannot be reached now; nothing was changed"
                    )
                found.messages.append(
                    {"role": "agent", "text": text.strip(), "at": iso_in(0), "agent_name": agent["name"]}
                )
                return json({"sent": True})
            elif name in ("resolve", "hand-back"):
                self.owned(ticket_id, agent)
                found.fields["status"] = "resolved"
                found.resolution = "resolved" if name == "resolve" else "handed_back"
            elif name == "reveal-contact":
                self.owned(ticket_id, agent)
                if found.contact_phone is None:
                    raise ApiError(
                        404, "contact_not_available", "the shopper left no phone number on this ticket"
                    )
                return json({"contact_phone": found.contact_phone})
            else:
                raise ApiError(404, "not_found", "no such resource")
            return json({"ticket": self.ticket_json(found)})

        app.add_route(me, "/desk/api/me", methods=["GET"])
        app.add_route(tickets, "/desk/api/tickets", methods=["GET"])
        app.add_route(ticket, "/desk/api/tickets/<ticket_id:str>", methods=["GET"])
        app.add_route(action, "/desk/api/tickets/<ticket_id:str>/<name:str>", methods=["POST"])


def iso_in(minutes: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(minutes=minutes)).isoformat()


AGENT_TOKEN = "agent-token-wang"
XSS_SUMMARY = '<img src=x onerror="window.__xss=1">顾客说要退货'
XSS_MESSAGE = "<script>window.__xss=2</script>我要找人工"


def fake_desk() -> FakeDesk:
    """Two tickets: an urgent one, and a normal one that is overdue (due earlier)."""
    urgent = FakeTicket(
        fields={
            "ticket_id": "H20240501-0002",
            "channel": "wechat",
            "order_id": "8800001001",
            "reason": "urgent",
            "priority": 1,
            "status": "queued",
            "created_at": iso_in(-1),
            "due_at": iso_in(4.5),
            "callback_at": None,
        },
        context={
            "summary": "诉求：账户被盗刷\n转人工原因：紧急情况",
            "transcript": [
                {"role": "shopper", "text": "我的账户被人盗刷了！！", "at": iso_in(-2)},
                {"role": "bot", "text": "非常抱歉，正在为您转接人工客服。", "at": iso_in(-1)},
            ],
            "slots": {"order_id": "8800001001", "identity_verified": True, "refund_amount": None},
            "order_snapshot": {
                "order_id": "8800001001",
                "status": "delivered",
                "payment": {"method": "wechat_pay", "amount": "199.00"},
                "items": [{"sku": "AP-TS-01", "name": "纯棉圆领T恤", "price": "199.00", "quantity": 1}],
            },
            "contact_masked": "138****8000",
        },
        messages=[
            {"role": "shopper", "text": "我的账户被人盗刷了！！", "at": iso_in(-2), "agent_name": None},
            {"role": "bot", "text": "非常抱歉，正在为您转接人工客服。", "at": iso_in(-1), "agent_name": None},
            {"role": "shopper", "text": "请快一点", "at": iso_in(-0.5), "agent_name": None},
        ],
        contact_phone="13800138000",
    )
    overdue = FakeTicket(
        fields={
            "ticket_id": "H20240501-0001",
            "channel": "web",
            "order_id": None,
            "reason": "user_request",
            "priority": 6,
            "status": "queued",
            "created_at": iso_in(-40),
            "due_at": iso_in(-10),
            "callback_at": None,
        },
        context={
            "summary": XSS_SUMMARY,
            "transcript": [],
            "slots": {},
            "order_snapshot": None,
            "contact_masked": None,
        },
        messages=[{"role": "shopper", "text": XSS_MESSAGE, "at": iso_in(-40), "agent_name": None}],
        contact_phone=None,
    )
    return FakeDesk(
        agents={
            AGENT_TOKEN: {"id": "a_wang", "name": "王晓"},
            "agent-token-li": {"id": "a_li", "name": "李娜"},
        },
        tickets={t.fields["ticket_id"]: t for t in (overdue, urgent)},
    )


@pytest.fixture
def desk() -> Iterator[tuple[ServedApp, FakeDesk]]:
    """The page and a fresh fake desk API on one origin, as the record service serves them."""
    fake = fake_desk()
    app = new_app("desk_fake")
    add_desk_page_routes(app)
    fake.add_routes(app)
    served = ServedApp(app).start()
    yield served, fake
    served.stop()


# ------------------------------------------------------------------ the page in a browser


def test_the_page_opens_in_chromium_on_the_record_service_s_default_port(browser: Browser) -> None:
    # The other tests use free ports; a default that browsers refuse (5061, ERR_UNSAFE_PORT)
    # once hid behind them.
    app = new_app("desk_default_port")
    add_desk_page_routes(app)
    try:
        served = ServedApp(app, port=DEFAULT_PORT).start()
    except RuntimeError as error:
        pytest.fail(f"port {DEFAULT_PORT} is taken (is a stack running? `make down`): {error}")
    try:
        browser.page.goto(f"{served.url}/desk/")
        expect(browser.page.get_by_test_id("login-token")).to_be_visible()
    finally:
        served.stop()


def test_an_agent_logs_in_claims_replies_and_resolves(
    desk: tuple[ServedApp, FakeDesk], browser: Browser
) -> None:
    server, fake = desk
    page = browser.page
    page.goto(f"{server.url}/desk/")

    # A wrong token is refused with a clear message; the right one opens the workspace.
    expect(page.get_by_test_id("login-token")).to_be_focused()
    page.get_by_test_id("login-token").fill("not-a-token")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-message")).to_contain_text("令牌无效")
    page.screenshot(path=str(SCREENSHOTS / "desk-login.png"))
    page.get_by_test_id("login-token").fill(AGENT_TOKEN)
    page.get_by_test_id("login-token").press("Enter")
    expect(page.get_by_test_id("agent-name")).to_have_text("王晓")

    # The queue in the API's order: the urgent ticket first, though the other is overdue.
    items = page.get_by_test_id("queue-item")
    expect(items).to_have_count(2)
    assert [items.nth(i).get_attribute("data-ticket-id") for i in range(2)] == [
        "H20240501-0002",
        "H20240501-0001",
    ]
    first, second = items.nth(0), items.nth(1)
    expect(first).to_contain_text("P1 紧急")
    expect(first).to_contain_text("紧急")
    expect(first).to_contain_text("微信")
    expect(first).to_contain_text("排队中")
    expect(first).to_contain_text("138****8000")
    expect(first.locator(".sla")).to_have_text(re.compile(r"剩余 [45] 分钟"))
    expect(second).to_contain_text("P6 普通")
    expect(second).to_contain_text("顾客要求人工")
    expect(second).to_contain_text("网页")
    expect(second.locator(".sla")).to_have_text(re.compile(r"已超时 1[01] 分钟"))
    expect(second.locator(".sla")).to_have_css("color", "rgb(196, 38, 29)")
    page.screenshot(path=str(SCREENSHOTS / "desk-queue.png"))

    # Data from the API is text, never markup.
    expect(second).to_contain_text(XSS_SUMMARY)
    second.click()
    log = page.get_by_test_id("conversation-log")
    expect(log.locator("[data-testid=message]")).to_have_count(1)
    expect(log.locator("[data-role=shopper]")).to_have_text(re.compile(re.escape(XSS_MESSAGE)))
    expect(page.get_by_test_id("ticket-summary")).to_have_text(XSS_SUMMARY)
    expect(page.get_by_test_id("reveal-contact-button")).to_be_hidden()  # no phone to reveal
    assert page.evaluate("window.__xss") is None
    assert page.locator("img, script:not([src])").count() == 0

    # Opening the urgent ticket shows its context and the live conversation.
    first.click()
    expect(page.get_by_test_id("ticket-title")).to_have_text("工单 H20240501-0002")
    expect(page.get_by_test_id("ticket-summary")).to_have_text("诉求：账户被盗刷\n转人工原因：紧急情况")
    order = page.get_by_test_id("ticket-order")
    for text in ("8800001001", "已签收", "¥199.00", "纯棉圆领T恤", "×1"):
        expect(order).to_contain_text(text)
    slots = page.get_by_test_id("ticket-slots")
    expect(slots.locator("tbody tr")).to_have_count(3)
    expect(slots).to_contain_text("identity_verified")
    expect(slots.locator("tbody tr").nth(1)).to_contain_text("是")
    expect(page.get_by_test_id("ticket-transcript").locator("[data-testid=message]")).to_have_count(2)
    roles = log.locator("[data-testid=message]")
    expect(roles).to_have_count(3)
    assert [roles.nth(i).get_attribute("data-role") for i in range(3)] == ["shopper", "bot", "shopper"]
    expect(page.get_by_test_id("reply-button")).to_be_disabled()
    expect(page.get_by_test_id("reply-text")).to_be_disabled()
    expect(page.get_by_test_id("reveal-contact-button")).to_be_disabled()  # for the agent who claimed it

    # Claim; then the full number, only after confirming (the API records the reveal).
    page.get_by_test_id("claim-button").click()
    expect(page.get_by_test_id("ticket-meta")).to_contain_text("我的")
    expect(page.get_by_test_id("claim-button")).to_be_disabled()
    expect(page.get_by_test_id("claim-button")).to_have_text("已接单")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_test_id("reveal-contact-button").click()
    expect(page.get_by_test_id("contact-full")).to_be_hidden()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("reveal-contact-button").click()
    expect(page.get_by_test_id("contact-full")).to_have_text("13800138000")
    assert [c for c in fake.calls if c[1] == "reveal-contact"] == [
        ("a_wang", "reveal-contact", "H20240501-0002", {})
    ]

    # Reply: Enter sends, Shift+Enter is a new line.
    reply = page.get_by_test_id("reply-text")
    expect(reply).to_be_enabled()
    expect(page.get_by_test_id("reply-button")).to_be_disabled()  # nothing typed yet
    reply.click()
    page.keyboard.type("您好，我是客服王晓。")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("已为您冻结账户，请放心。")
    page.keyboard.press("Enter")
    sent = "您好，我是客服王晓。\n已为您冻结账户，请放心。"
    agent_message = log.locator("[data-role=agent]")
    expect(agent_message).to_have_count(1)
    expect(agent_message).to_contain_text("客服")
    expect(agent_message.locator(".message-text")).to_have_text(sent)
    expect(reply).to_have_value("")
    assert [c for c in fake.calls if c[1] in ("claim", "reply")] == [
        ("a_wang", "claim", "H20240501-0002", {}),
        ("a_wang", "reply", "H20240501-0002", {"text": sent}),
    ]
    page.screenshot(path=str(SCREENSHOTS / "desk-ticket.png"))

    # The bot being down is told, and the unsent reply stays in the box.
    fake.bot_down = True
    reply.fill("稍等，正在处理")
    page.get_by_test_id("reply-button").click()
    banner = page.get_by_test_id("error-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("连接不上机器人服务")
    expect(banner).to_contain_text("503")
    expect(reply).to_have_value("稍等，正在处理")
    expect(agent_message).to_have_count(1)
    notice = page.get_by_test_id("conversation-notice")
    expect(notice).to_contain_text("暂时无法读取实时对话")
    expect(page.get_by_test_id("ticket-transcript")).to_be_visible()  # what the agent still has
    fake.bot_down = False
    expect(notice).to_be_hidden()
    page.get_by_role("button", name="关闭提示").click()
    expect(banner).to_be_hidden()

    # Another agent wins the race for the second ticket: 409, shown, not swallowed.
    fake.take_next_claim_for = fake.agents["agent-token-li"]
    second.click()
    expect(page.get_by_test_id("ticket-title")).to_have_text("工单 H20240501-0001")
    page.get_by_test_id("claim-button").click()
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("该工单已被其他客服接单")
    expect(banner).to_contain_text("409")
    expect(page.get_by_test_id("ticket-hint")).to_contain_text("李娜")
    expect(page.get_by_test_id("claim-button")).to_be_disabled()
    page.screenshot(path=str(SCREENSHOTS / "desk-error.png"))

    # Resolve the first ticket: it leaves the queue and cannot be answered any more.
    first.click()
    expect(page.get_by_test_id("ticket-title")).to_have_text("工单 H20240501-0002")
    page.get_by_test_id("resolve-button").click()
    expect(page.get_by_test_id("ticket-meta")).to_contain_text("已解决")
    expect(items).to_have_count(1)
    expect(page.get_by_test_id("resolve-button")).to_be_disabled()
    expect(page.get_by_test_id("reply-text")).to_be_disabled()
    assert ("a_wang", "resolve", "H20240501-0002", {}) in fake.calls
    expect(banner).to_be_hidden()  # a successful action clears the previous error
    page.screenshot(path=str(SCREENSHOTS / "desk-resolved.png"))

    assert browser.unexpected_errors() == []


def test_the_keyboard_is_enough_to_take_a_ticket_and_hand_it_back(
    desk: tuple[ServedApp, FakeDesk], browser: Browser
) -> None:
    server, fake = desk
    page = browser.page
    page.goto(f"{server.url}/desk/")
    page.keyboard.type(AGENT_TOKEN)
    page.keyboard.press("Enter")
    items = page.get_by_test_id("queue-item")
    expect(items).to_have_count(2)

    # Tab reaches the queue; Enter opens a ticket, and the focus survives the queue's polls.
    first_button = items.nth(0).locator("button")
    for _ in range(5):
        page.keyboard.press("Tab")
        if first_button.evaluate("node => node === document.activeElement"):
            break
    expect(first_button).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("ticket-title")).to_have_text("工单 H20240501-0002")
    page.wait_for_timeout(3500)
    expect(items.nth(0).locator("button")).to_be_focused()
    expect(items.nth(0).locator("button")).to_have_attribute("aria-current", "true")

    # The actions are buttons in the tab order: claim, then hand back to the bot.
    page.get_by_test_id("claim-button").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("claim-button")).to_have_text("已接单")
    page.get_by_test_id("hand-back-button").focus()
    page.keyboard.press("Space")
    expect(page.get_by_test_id("ticket-hint")).to_have_text("工单已交还机器人。")
    assert [c[1] for c in fake.calls] == ["claim", "hand-back"]
    assert fake.tickets["H20240501-0002"].resolution == "handed_back"
    assert browser.unexpected_errors() == []


def test_the_token_lasts_the_tab_and_a_revoked_one_returns_to_login(
    desk: tuple[ServedApp, FakeDesk], browser: Browser
) -> None:
    server, fake = desk
    page = browser.page
    page.goto(f"{server.url}/desk/")
    page.get_by_test_id("login-token").fill(AGENT_TOKEN)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("queue-item")).to_have_count(2)

    # A reload keeps the agent logged in (sessionStorage); 退出 forgets the token.
    page.reload()
    expect(page.get_by_test_id("agent-name")).to_have_text("王晓")
    page.get_by_test_id("logout-button").click()
    expect(page.get_by_test_id("login-token")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
    page.reload()
    expect(page.get_by_test_id("login-token")).to_be_visible()

    # A token revoked while working: the next poll gets 401 and the login view says why.
    page.get_by_test_id("login-token").fill(AGENT_TOKEN)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("queue-item")).to_have_count(2)
    del fake.agents[AGENT_TOKEN]
    expect(page.get_by_test_id("login-message")).to_contain_text("登录已失效", timeout=8000)
    expect(page.get_by_test_id("login-token")).to_be_visible()
    expect(page.locator("#workspace")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0

    assert browser.unexpected_errors() == []
