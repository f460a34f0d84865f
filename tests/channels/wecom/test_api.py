"""The WeCom API client (gettoken, kf/sync_msg, kf/send_msg) against a local fake of WeCom."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from channels.wecom.api import KfApi, WeComApiError, WeComApiUnavailable
from tests.fixtures.fake_wecom import FAKE_CORP_ID, FAKE_OPEN_KFID, FAKE_SECRET, FakeWeCom

CUSTOMER = "wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw"


def _client(fake: FakeWeCom, **options: Any) -> KfApi:
    return KfApi(fake.url, FAKE_CORP_ID, FAKE_SECRET, backoff_s=0.01, **options)


async def test_pages_follow_the_cursor_until_there_is_no_more(fake_wecom: FakeWeCom) -> None:
    fake_wecom.page_size = 2
    items = [fake_wecom.customer_sends(CUSTOMER, f"第{number}条") for number in range(5)]
    api = _client(fake_wecom)
    pages, cursor = [], ""
    token = fake_wecom.callback_token()
    while True:
        page = await api.sync_msg(FAKE_OPEN_KFID, cursor, token)
        pages.append(page)
        cursor = page.next_cursor
        if not page.has_more:
            break
    assert [len(page.items) for page in pages] == [2, 2, 1]
    assert [item for page in pages for item in page.items] == items
    assert fake_wecom.sync_requests[0] == {"cursor": "", "limit": 1000, "open_kfid": FAKE_OPEN_KFID,
                                           "token": token}
    again = await api.sync_msg(FAKE_OPEN_KFID, cursor, "")  # nothing new after the last cursor
    assert (again.items, again.has_more) == ([], False)
    assert "token" not in fake_wecom.sync_requests[-1] and fake_wecom.token_requests == 1


async def test_an_expired_callback_token_is_refused_by_wecom(fake_wecom: FakeWeCom) -> None:
    with pytest.raises(WeComApiError) as refused:
        await _client(fake_wecom).sync_msg(FAKE_OPEN_KFID, "", "a-token-wecom-never-issued")
    assert refused.value.errcode == 95007


async def test_a_text_reaches_the_customer_with_our_msgid(fake_wecom: FakeWeCom) -> None:
    fake_wecom.customer_sends(CUSTOMER, "你好")
    await _client(fake_wecom).send_text(CUSTOMER, FAKE_OPEN_KFID, "您好，请问有什么可以帮您？", "a" * 32)
    [sent] = fake_wecom.sent
    assert (sent.touser, sent.open_kfid, sent.msgid, sent.content) == (
        CUSTOMER, FAKE_OPEN_KFID, "a" * 32, "您好，请问有什么可以帮您？")


async def test_wecom_allows_five_answers_per_customer_message(fake_wecom: FakeWeCom) -> None:
    fake_wecom.customer_sends(CUSTOMER, "你好")
    api = _client(fake_wecom)
    for number in range(5):
        await api.send_text(CUSTOMER, FAKE_OPEN_KFID, f"第{number}条", f"m{number}")
    with pytest.raises(WeComApiError) as refused:
        await api.send_text(CUSTOMER, FAKE_OPEN_KFID, "第六条", "m5")
    assert refused.value.errcode == 95001


async def test_a_welcome_code_sends_once(fake_wecom: FakeWeCom) -> None:
    code = fake_wecom.customer_enters(CUSTOMER)["event"]["welcome_code"]
    api = _client(fake_wecom)
    await api.send_welcome(code, "欢迎光临", "w1")
    with pytest.raises(WeComApiError):
        await api.send_welcome(code, "欢迎光临", "w2")
    assert [(message.code, message.content) for message in fake_wecom.sent] == [(code, "欢迎光临")]


async def test_the_token_is_cached_until_shortly_before_it_expires(fake_wecom: FakeWeCom) -> None:
    now = [1000.0]
    api = _client(fake_wecom, clock=lambda: now[0])
    for _ in range(3):
        await api.sync_msg(FAKE_OPEN_KFID, "", "")
    assert fake_wecom.token_requests == 1
    now[0] += 7200 - 300 - 1  # WeCom says 7200 s; the client renews 300 s early
    await api.sync_msg(FAKE_OPEN_KFID, "", "")
    assert fake_wecom.token_requests == 1
    now[0] += 1
    await api.sync_msg(FAKE_OPEN_KFID, "", "")
    assert fake_wecom.token_requests == 2


@pytest.mark.parametrize("spoil", ["expire_tokens", "revoke_tokens"])  # 42001, 40014
async def test_a_refused_token_is_refreshed_once_and_the_call_repeated(fake_wecom: FakeWeCom, spoil: str) -> None:
    fake_wecom.customer_sends(CUSTOMER, "你好")
    api = _client(fake_wecom)
    await api.send_text(CUSTOMER, FAKE_OPEN_KFID, "第一条", "m1")
    getattr(fake_wecom, spoil)()
    await api.send_text(CUSTOMER, FAKE_OPEN_KFID, "第二条", "m2")
    getattr(fake_wecom, spoil)()
    assert (await api.sync_msg(FAKE_OPEN_KFID, "", "")).items
    assert fake_wecom.token_requests == 3
    assert [message.content for message in fake_wecom.sent] == ["第一条", "第二条"]


async def test_concurrent_callers_fetch_one_token(fake_wecom: FakeWeCom) -> None:
    fake_wecom.token_delay_s = 0.3
    api = _client(fake_wecom)
    await asyncio.gather(*(api.sync_msg(FAKE_OPEN_KFID, "", "") for _ in range(8)))
    assert fake_wecom.token_requests == 1


@pytest.mark.parametrize("how", ["http500", "busy"])
async def test_failures_are_retried_with_backoff(fake_wecom: FakeWeCom, how: str) -> None:
    fake_wecom.customer_sends(CUSTOMER, "你好")
    api = _client(fake_wecom)
    fake_wecom.fail_next(2, how)  # the token call and the first send fail once each
    await api.send_text(CUSTOMER, FAKE_OPEN_KFID, "终于送达", "m1")
    assert [message.content for message in fake_wecom.sent] == ["终于送达"]
    fake_wecom.fail_next(3, how)
    with pytest.raises(WeComApiUnavailable if how == "http500" else WeComApiError):
        await api.sync_msg(FAKE_OPEN_KFID, "", "")


async def test_wrong_credentials_are_refused_and_not_retried(fake_wecom: FakeWeCom) -> None:
    with pytest.raises(WeComApiError) as refused:
        await KfApi(fake_wecom.url, FAKE_CORP_ID, "wrong-secret", backoff_s=0.01).sync_msg(FAKE_OPEN_KFID, "", "")
    assert refused.value.errcode == 40001 and fake_wecom.sync_requests == []


async def test_an_unreachable_api_is_unavailable_without_the_token_in_the_message() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    api = KfApi(f"http://127.0.0.1:{port}", FAKE_CORP_ID, FAKE_SECRET, backoff_s=0.01, connect_timeout_s=0.5)
    with pytest.raises(WeComApiUnavailable) as unavailable:
        await api.sync_msg(FAKE_OPEN_KFID, "", "")
    assert FAKE_SECRET not in str(unavailable.value) and not unavailable.value.sent


def test_settings_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError):
        KfApi("ftp://example", FAKE_CORP_ID, FAKE_SECRET)
    with pytest.raises(ValueError):
        KfApi("http://127.0.0.1:1", FAKE_CORP_ID, FAKE_SECRET, attempts=0)
