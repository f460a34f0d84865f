"""Twenty shoppers at once, fifty messages each, on the embedded default (issue 11): every
message answered, none lost, every conversation's decisions recorded."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

from tests.fixtures.stack import Stack

CONVERSATIONS = 20
TURNS = 50
# Ten messages of a refund check, a rules question, a pre-sale question and a return
# begun and dropped, played five times over (acceptance orders: 8800002003, digits 5555).
ROUND = ["你好", "我想查一下退款进度", "8800002003", "5555", "退货运费谁出", "这个杯子有没有粉色的",
         "我要退货", "算了", "谢谢", "好的"]


@dataclass
class Shopper:
    sender: str = field(default_factory=lambda: f"load-{uuid.uuid4().hex[:10]}")
    errors: list[str] = field(default_factory=list)


def play(bot_url: str) -> Shopper:
    shopper = Shopper()
    with requests.Session() as session:
        for turn in range(TURNS):
            text = ROUND[turn % len(ROUND)]
            try:
                reply = session.post(f"{bot_url}/webhooks/rest/webhook",
                                     json={"sender": shopper.sender, "message": text}, timeout=120)
            except requests.RequestException as error:
                shopper.errors.append(f"turn {turn}: {type(error).__name__}")
                continue
            if reply.status_code != 200 or not any(m.get("text") for m in reply.json()):
                shopper.errors.append(f"turn {turn} ({text}): HTTP {reply.status_code}, {reply.text[:100]}")
    return shopper


def user_messages(stack: Stack, sender: str) -> int:
    tracker = requests.get(f"{stack.env['BOT_URL']}/conversations/{sender}/tracker",
                           params={"token": stack.env["BOT_TOKEN"]}, timeout=30).json()
    return sum(event["event"] == "user" for event in tracker["events"])


def refund_checks(stack: Stack, sender: str) -> int:
    records = requests.get(stack.env["RECORDS_URL"], params={"conversation_id": sender},
                           headers={"Authorization": f"Bearer {stack.env['RECORDS_TOKEN']}"}, timeout=30).json()
    return sum(record["kind"] == "refund_status" for record in records["records"])


def test_twenty_shoppers_times_fifty_messages_are_all_answered(running_stack: Stack) -> None:
    with ThreadPoolExecutor(max_workers=CONVERSATIONS) as pool:
        shoppers = list(pool.map(lambda _: play(running_stack.env["BOT_URL"]), range(CONVERSATIONS)))

    assert [error for shopper in shoppers for error in shopper.errors] == []
    assert [user_messages(running_stack, s.sender) for s in shoppers] == [TURNS] * CONVERSATIONS
    assert all(refund_checks(running_stack, s.sender) >= 1 for s in shoppers)
