"""The web widget in a real browser: Debian's headless Chromium, driven by Playwright,
chats with the running stack through the demo shop page the way a shopper would, by
typing and clicking. Outcomes are checked in the service records, not in the wording.

Screenshots are kept in results/screenshots/widget-*.png and in each test's tmp dir.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, require_chromium
from tests.fixtures.servers import REPO_ROOT
from tests.fixtures.stack import Stack

WIDGET_WEB = REPO_ROOT / "channels" / "widget" / "web"
WIDGET = "#aftersales-chat-widget"
# A bot turn runs NLU, a form and the order and record services on two shared cores.
TURN_TIMEOUT_MS = 60_000
MAX_TURNS = 6

# The acceptance orders (../shared/acceptance/orders.yaml): 8800002003 belongs to 王芳
# (phone 13700005555, web account u_wangfang) and has a refund still within its deadline.
REFUND_ORDER = "8800002003"
REFUND_OWNER_PHONE_LAST4 = "5555"
REFUND_OWNER_ACCOUNT = "u_wangfang"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    context.set_default_timeout(TURN_TIMEOUT_MS)
    yield context.new_page()
    context.close()


def screenshot(page: Page, name: str, tmp_path: Path) -> Path:
    """Saves the page as results/screenshots/widget-<name>.png and a copy in tmp_path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"widget-{name}.png"
    page.screenshot(path=str(path))
    shutil.copy(path, tmp_path / path.name)
    return path


def open_widget(page: Page, url: str) -> str:
    """Opens the demo page and the chat panel; returns the confirmed conversation id."""
    page.goto(url)
    page.get_by_role("button", name="打开在线客服").click()
    expect(page.get_by_role("dialog", name="在线客服对话窗口")).to_be_visible()
    host = page.locator(WIDGET)
    expect(host).to_have_attribute("data-connection", "online")
    conversation_id = host.get_attribute("data-conversation-id")
    assert conversation_id
    return conversation_id


def bot_rows(page: Page) -> Locator:
    """The bot's messages, without the widget's own welcome and typing bubble."""
    return page.locator(f"{WIDGET} .yx-row-bot:not(.yx-welcome):not(.yx-typing)")


def say(page: Page, text: str) -> None:
    """Types a message into the widget and sends it with Enter, as a shopper does."""
    box = page.get_by_role("textbox", name="输入您的问题")
    box.click()
    box.press_sequentially(text, delay=20)
    box.press("Enter")


def wait_for_turn(page: Page, replies_before: int) -> str:
    """Waits until the bot has answered and stopped typing; returns its latest text."""
    expect(bot_rows(page)).not_to_have_count(replies_before)
    expect(page.locator(f"{WIDGET} .yx-typing")).to_have_count(0)
    return bot_rows(page).last.inner_text()


def answer_for(question: str, facts: dict[str, str]) -> str | None:
    """What a shopper with these facts answers to the bot's question, or None."""
    if re.search(r"后四位|尾号", question):
        return facts.get("phone_last4")
    if "订单" in question and re.search(r"哪个|订单号|号码", question):
        return facts.get("order_id")
    return None


def records_of(stack: Stack, conversation_id: str) -> list[dict[str, Any]]:
    response = requests.get(
        stack.env["RECORDS_URL"],
        params={"conversation_id": conversation_id},
        headers={"Authorization": f"Bearer {stack.env['RECORDS_TOKEN']}"},
        timeout=10,
    )
    response.raise_for_status()
    body = response.json()
    records: list[dict[str, Any]] = body["records"] if isinstance(body, dict) else body
    return records


def wait_for_record(stack: Stack, conversation_id: str, kind: str, timeout_s: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        found = [record for record in records_of(stack, conversation_id) if record["kind"] == kind]
        if found:
            return found[-1]
        if time.monotonic() > deadline:
            raise AssertionError(f"no {kind} record for conversation {conversation_id}")
        time.sleep(0.5)


@pytest.mark.stack
def test_anonymous_shopper_gets_refund_status_by_typing_across_a_network_drop(
    running_stack: Stack, page: Page, tmp_path: Path
) -> None:
    conversation_id = open_widget(page, running_stack.env["WIDGET_URL"])
    expect(page.get_by_role("button", name="转人工客服")).to_be_visible()
    facts = {"order_id": REFUND_ORDER, "phone_last4": REFUND_OWNER_PHONE_LAST4}

    say(page, "我的退款怎么还没到")
    question = wait_for_turn(page, 0)
    dropped = False
    for _ in range(MAX_TURNS):
        answer = answer_for(question, facts)
        if answer is None:
            break
        replies = bot_rows(page).count()
        if answer == REFUND_OWNER_PHONE_LAST4 and not dropped:
            # The network drops just before the shopper answers: the answer waits and
            # goes out after the reconnect, in the same conversation.
            page.context.set_offline(True)
            expect(page.locator(WIDGET)).to_have_attribute("data-connection", "reconnecting")
            expect(page.get_by_text("正在重新连接…").first).to_be_visible()
            say(page, answer)
            expect(page.locator(f"{WIDGET} .yx-row-user[data-status=pending]")).to_have_count(1)
            screenshot(page, "reconnecting", tmp_path)
            page.context.set_offline(False)
            expect(page.locator(WIDGET)).to_have_attribute("data-connection", "online")
            expect(page.locator(f"{WIDGET} .yx-row-user[data-status=pending]")).to_have_count(0)
            dropped = True
        else:
            say(page, answer)
        question = wait_for_turn(page, replies)
    assert dropped, f"the bot never asked for the phone digits; last message: {question}"
    assert page.locator(WIDGET).get_attribute("data-conversation-id") == conversation_id

    record = wait_for_record(running_stack, conversation_id, "refund_status")
    assert (record["order_id"], record["outcome"]) == (REFUND_ORDER, "on_time")
    assert record["details"].get("due_by")
    identity = wait_for_record(running_stack, conversation_id, "identity_check")
    assert (identity["outcome"], identity["details"]["method"]) == ("verified", "phone_last4")
    screenshot(page, "refund-anonymous", tmp_path)

    # A reload keeps the transcript (sessionStorage) and the conversation (session token).
    transcript = page.locator(f"{WIDGET} .yx-log").inner_text()
    page.reload()
    expect(page.locator(WIDGET)).to_have_attribute("data-connection", "online")
    assert page.locator(WIDGET).get_attribute("data-conversation-id") == conversation_id
    assert page.locator(f"{WIDGET} .yx-log").inner_text() == transcript


@pytest.mark.stack
def test_logged_in_shopper_picks_the_order_from_quick_replies_and_asks_for_a_person(
    running_stack: Stack, page: Page, tmp_path: Path
) -> None:
    conversation_id = open_widget(page, f"{running_stack.env['WIDGET_URL']}?as={REFUND_OWNER_ACCOUNT}")

    say(page, "退款什么时候能到账")
    wait_for_turn(page, 0)
    order_button = page.locator(f"{WIDGET} .yx-quick-reply:enabled", has_text=REFUND_ORDER)
    expect(order_button).to_have_count(1)
    screenshot(page, "quick-replies", tmp_path)
    replies = bot_rows(page).count()
    order_button.click()
    expect(page.locator(f"{WIDGET} .yx-bubble-user").last).to_contain_text(REFUND_ORDER)
    wait_for_turn(page, replies)

    record = wait_for_record(running_stack, conversation_id, "refund_status")
    assert (record["order_id"], record["outcome"]) == (REFUND_ORDER, "on_time")
    identity = wait_for_record(running_stack, conversation_id, "identity_check")
    assert (identity["outcome"], identity["details"]["method"]) == ("verified", "account")

    # 适老化: large text is a class on the widget's root, and the choice is remembered.
    large_text = page.get_by_role("button", name="大字模式（适老化）")
    large_text.click()
    expect(page.locator(f"{WIDGET} .yx-root")).to_have_class(re.compile(r"\byx-large\b"))
    expect(large_text).to_have_attribute("aria-pressed", "true")
    human = page.get_by_role("button", name="转人工客服")
    expect(human).to_be_visible()
    replies = bot_rows(page).count()
    human.click()
    wait_for_turn(page, replies)
    handoff = wait_for_record(running_stack, conversation_id, "handoff")
    assert handoff["details"]["reason"] == "user_request"
    screenshot(page, "large-text", tmp_path)

    page.reload()
    expect(page.locator(f"{WIDGET} .yx-root")).to_have_class(re.compile(r"\byx-large\b"))


@pytest.mark.stack
def test_a_person_takes_over_in_the_workspace_and_the_bot_asks_for_a_rating(
    running_stack: Stack, browser: Browser, page: Page, tmp_path: Path
) -> None:
    # The agent logs in to the workspace first: an agent online is what pauses the bot.
    desk_context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    desk_context.set_default_timeout(TURN_TIMEOUT_MS)
    desk = desk_context.new_page()
    desk.goto(running_stack.env["AGENT_URL"])
    desk.get_by_test_id("login-token").fill(running_stack.env["AGENT_TOKEN"])
    desk.get_by_test_id("login-submit").click()
    expect(desk.get_by_test_id("agent-name")).to_have_text(re.compile("客服小王"))

    conversation_id = open_widget(page, running_stack.env["WIDGET_URL"])
    say(page, "我的快递三天没动了，帮我转人工")
    wait_for_turn(page, 0)
    handoff = wait_for_record(running_stack, conversation_id, "handoff")
    ticket_id = handoff["details"]["ticket_id"]
    expect(bot_rows(page).last).to_contain_text(ticket_id)
    # Paused: the shopper's next words wait for the person; the bot does not answer them.
    replies = bot_rows(page).count()
    say(page, "单号是8800001007")

    item = desk.locator(f"li[data-ticket-id='{ticket_id}'] button")
    item.click()
    expect(desk.get_by_test_id("ticket-summary")).to_contain_text("顾客主动要求转人工")
    log = desk.get_by_test_id("conversation-log")
    expect(log.locator("[data-role=shopper]", has_text="单号是8800001007")).to_have_count(1)
    assert bot_rows(page).count() == replies, bot_rows(page).all_inner_texts()
    desk.get_by_test_id("claim-button").click()
    expect(desk.get_by_test_id("reply-text")).to_be_enabled()
    desk.get_by_test_id("reply-text").fill("您好，我是客服小王。包裹在转运中心，明天会派送。")
    desk.get_by_test_id("reply-button").click()
    expect(bot_rows(page).last).to_contain_text("包裹在转运中心，明天会派送", timeout=TURN_TIMEOUT_MS)
    expect(log.locator("[data-role=agent]", has_text="明天会派送")).to_have_count(1)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    desk.screenshot(path=str(SCREENSHOTS / "desk-takeover.png"))
    screenshot(page, "agent-reply", tmp_path)

    desk.get_by_test_id("resolve-button").click()
    five = page.locator(f"{WIDGET} .yx-quick-reply:enabled", has_text="5分")
    expect(five).to_have_count(1, timeout=TURN_TIMEOUT_MS)
    replies = bot_rows(page).count()
    five.click()
    wait_for_turn(page, replies)
    rating = wait_for_record(running_stack, conversation_id, "satisfaction")
    assert (rating["outcome"], rating["details"]) == ("rated", {"rating": 5, "channel": "widget"})
    screenshot(page, "rated", tmp_path)
    desk_context.close()


@pytest.mark.slow  # runs the widget's Vitest suite with npm
def test_widget_unit_tests_pass() -> None:
    """The widget's own Vitest suite (rendering, quick replies, order card, storage)."""
    npm = shutil.which("npm")
    assert npm, "npm is missing: install Node.js 20.19+ (scripts/setup.sh builds the widget with it)"
    assert (WIDGET_WEB / "node_modules").is_dir(), "run scripts/setup.sh first: it installs the widget's npm packages"
    result = subprocess.run(
        [npm, "test", "--prefix", str(WIDGET_WEB)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "CI": "true"},
    )
    assert result.returncode == 0, f"npm test failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
