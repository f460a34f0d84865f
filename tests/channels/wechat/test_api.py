"""The customer-service API client against a local fake of WeChat's API servers."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from channels.wechat.api import CustomerServiceApi, WeChatApiError, WeChatApiUnavailable
from tests.fixtures.fake_wechat import FAKE_APP_ID, FAKE_APP_SECRET, FakeWeChat, SentMessage

OPENID = "oWx_zhangwei_01"


def _client(fake: FakeWeChat, **options: Any) -> CustomerServiceApi:
    return CustomerServiceApi(fake.url, FAKE_APP_ID, FAKE_APP_SECRET, backoff_s=0.01, **options)


async def test_a_text_reaches_the_shopper_with_a_fetched_token(fake_wechat: FakeWeChat) -> None:
    api = _client(fake_wechat)
    await api.send_text(OPENID, "您的订单已发货 ]]> \"引号\"")
    assert fake_wechat.token_requests == 1
    token = await api.access_token()
    assert fake_wechat.sent == [SentMessage(OPENID, "text", "您的订单已发货 ]]> \"引号\"", token)]


async def test_the_token_is_cached_until_shortly_before_it_expires(fake_wechat: FakeWeChat) -> None:
    now = [1000.0]
    api = _client(fake_wechat, clock=lambda: now[0])
    for number in range(3):
        await api.send_text(OPENID, f"第{number}条")
    assert fake_wechat.token_requests == 1
    now[0] += 7200 - 300 - 1  # WeChat says 7200 s; the client renews 300 s early
    await api.send_text(OPENID, "还在有效期内")
    assert fake_wechat.token_requests == 1
    now[0] += 1
    await api.send_text(OPENID, "提前续期")
    assert fake_wechat.token_requests == 2
    assert len({message.access_token for message in fake_wechat.sent}) == 2


@pytest.mark.parametrize("spoil", ["expire_tokens", "revoke_tokens"])  # 42001, 40001
async def test_a_refused_token_is_refreshed_once_and_the_send_repeated(fake_wechat: FakeWeChat, spoil: str) -> None:
    api = _client(fake_wechat)
    await api.send_text(OPENID, "第一条")
    getattr(fake_wechat, spoil)()
    await api.send_text(OPENID, "第二条")
    assert fake_wechat.token_requests == 2
    assert [message.content for message in fake_wechat.sent] == ["第一条", "第二条"]
    assert fake_wechat.sent[0].access_token != fake_wechat.sent[1].access_token


async def test_concurrent_senders_fetch_one_token(fake_wechat: FakeWeChat) -> None:
    fake_wechat.token_delay_s = 0.3
    api = _client(fake_wechat)
    await asyncio.gather(*(api.send_text(OPENID, f"并发{number}") for number in range(8)))
    assert fake_wechat.token_requests == 1
    assert sorted(message.content for message in fake_wechat.sent) == sorted(f"并发{n}" for n in range(8))


async def test_concurrent_senders_refused_the_same_token_refresh_it_once(fake_wechat: FakeWeChat) -> None:
    api = _client(fake_wechat)
    await api.access_token()
    fake_wechat.revoke_tokens()
    fake_wechat.token_delay_s = 0.2
    await asyncio.gather(*(api.send_text(OPENID, f"并发{number}") for number in range(8)))
    assert fake_wechat.token_requests == 2
    assert len(fake_wechat.sent) == 8


@pytest.mark.parametrize("how", ["http500", "busy"])
async def test_failures_are_retried_with_backoff(fake_wechat: FakeWeChat, how: str) -> None:
    api = _client(fake_wechat)
    await api.access_token()
    fake_wechat.fail_next(2, how)  # the send's first two attempts fail, the third gets through
    await api.send_text(OPENID, "重试后送达")
    assert [message.content for message in fake_wechat.sent] == ["重试后送达"]


async def test_it_gives_up_after_its_attempts(fake_wechat: FakeWeChat) -> None:
    api = _client(fake_wechat)
    await api.access_token()
    fake_wechat.fail_next(3, "http500")
    with pytest.raises(WeChatApiUnavailable, match="HTTP 500"):
        await api.send_text(OPENID, "送不到")
    assert fake_wechat.sent == []
    await api.send_text(OPENID, "恢复后送达")  # the fourth call gets through
    assert [message.content for message in fake_wechat.sent] == ["恢复后送达"]


async def test_a_send_that_may_have_arrived_is_not_repeated(fake_wechat: FakeWeChat) -> None:
    api = _client(fake_wechat, read_timeout_s=0.3)
    await api.access_token()
    fake_wechat.send_delay_s = 1.0
    with pytest.raises(WeChatApiUnavailable) as raised:
        await api.send_text(OPENID, "只发一次")
    assert raised.value.sent
    assert [message.content for message in fake_wechat.wait_for_messages(1, timeout_s=3)] == ["只发一次"]
    # A repeat would have been sent before send_text gave up: once every request is answered, it is in `sent`.
    assert fake_wechat.wait_for_sends_answered(timeout_s=3)
    assert len(fake_wechat.sent) == 1


async def test_wrong_app_secret_is_an_error_not_retried(fake_wechat: FakeWeChat) -> None:
    api = CustomerServiceApi(fake_wechat.url, FAKE_APP_ID, "wrong-secret", backoff_s=0.01)
    with pytest.raises(WeChatApiError) as raised:
        await api.send_text(OPENID, "不会发出")
    assert (raised.value.errcode, fake_wechat.token_requests, fake_wechat.sent) == (40125, 0, [])


async def test_an_unreachable_api_is_unavailable_and_hides_the_url() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    api = CustomerServiceApi(f"http://127.0.0.1:{port}", FAKE_APP_ID, FAKE_APP_SECRET, backoff_s=0.01)
    with pytest.raises(WeChatApiUnavailable) as raised:
        await api.access_token()
    assert not raised.value.sent
    assert FAKE_APP_SECRET not in str(raised.value) and str(port) not in str(raised.value)
