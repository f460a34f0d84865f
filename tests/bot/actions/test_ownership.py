"""The order read once per action-server call, fresh on the next one."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from bot.actions.order_client import Order, OrderClient
from bot.actions.ownership import fetch_order, forget_orders, start_action_call
from bot.actions.services import Services
from tests.fixtures.actions import FAST_RETRY, install_services
from tests.fixtures.servers import RunningService

ORDER_ID = "8800001001"


class CountingOrderClient(OrderClient):
    """The real client, counting its `get_order` calls."""

    reads = 0

    def get_order(self, order_id: str) -> Order:
        self.reads += 1
        return super().get_order(order_id)


@pytest.fixture
def counting_orders(action_services: Services, order_system: RunningService) -> Iterator[CountingOrderClient]:
    with CountingOrderClient(order_system.url, order_system.token, retry=FAST_RETRY) as client:
        install_services(action_services, orders=client)
        yield client


async def test_one_call_reads_an_order_once(counting_orders: CountingOrderClient) -> None:
    start_action_call()
    first = await fetch_order(ORDER_ID)
    second = await fetch_order(ORDER_ID)

    assert second is first
    assert counting_orders.reads == 1


async def test_a_write_makes_the_next_read_fresh(counting_orders: CountingOrderClient) -> None:
    start_action_call()
    await fetch_order(ORDER_ID)
    forget_orders()
    await fetch_order(ORDER_ID)

    assert counting_orders.reads == 2


async def test_outside_an_action_call_every_read_goes_to_the_order_system(
    counting_orders: CountingOrderClient,
) -> None:
    async def outside_any_call() -> None:
        await fetch_order(ORDER_ID)
        await fetch_order(ORDER_ID)

    await asyncio.create_task(outside_any_call())

    assert counting_orders.reads == 2


async def test_two_calls_never_share_what_they_read(counting_orders: CountingOrderClient) -> None:
    async def one_action_call() -> Order:
        start_action_call()
        return await fetch_order(ORDER_ID)

    await asyncio.gather(one_action_call(), one_action_call())

    assert counting_orders.reads == 2
