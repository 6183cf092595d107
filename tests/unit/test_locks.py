import asyncio

from bot.locks import KeyedLocks


async def test_holders_of_one_key_run_one_at_a_time_in_arrival_order_and_the_lock_is_dropped_after():
    locks = KeyedLocks()
    order: list[str] = []

    async def holder(key: str, name: str, pause: float) -> None:
        async with locks.hold(key):
            order.append(f"{name} in")
            await asyncio.sleep(pause)
            order.append(f"{name} out")

    await asyncio.gather(holder("a", "first", 0.02), holder("a", "second", 0), holder("b", "other", 0))
    assert order.index("first out") < order.index("second in"), "the second waits for the first"
    assert order.index("other in") < order.index("first out"), "another key does not wait"
    assert len(locks) == 0


async def test_a_holder_cancelled_while_waiting_does_not_leak_its_lock():
    locks = KeyedLocks()
    async with locks.hold("a"):
        waiting = asyncio.create_task(locks.hold("a").__aenter__())
        await asyncio.sleep(0)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
    assert len(locks) == 0
