"""A shutdown cancelling an answer while Discord makes one of its messages: the message is kept and closed."""

from __future__ import annotations

import asyncio
from typing import cast

import discord
import pytest

from bot.answers.streaming import CURSOR, SentThenCancelled, StreamingReply, send_through_cancel
from tests.answers.recording import Channel, RecordedMessage


class SlowChannel(Channel):
    """Discord taking its time to make a message: it exists once `release` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, content: str, view: discord.ui.View | None) -> discord.Message:
        self.arrived.set()
        await self.release.wait()
        return await super().send(content, view)


async def test_a_message_being_made_when_the_answer_is_cancelled_is_closed_not_left_with_its_cursor():
    channel = SlowChannel()

    async def send(content: str, view: discord.ui.View | None) -> discord.Message:
        return await send_through_cancel(channel.send(content, view))

    reply = StreamingReply(send, edit_interval=0.0)
    streaming = asyncio.create_task(reply.push("The first words"))
    await channel.arrived.wait()
    streaming.cancel()  # the shutdown, while the request is at Discord
    await asyncio.sleep(0)
    channel.release.set()  # Discord makes the message all the same
    with pytest.raises(asyncio.CancelledError):
        await streaming
    [message] = channel.messages
    assert reply.messages == [message]
    await reply.finish(" (interrupted)")
    assert message.shown == ["The first words" + CURSOR, "The first words (interrupted)"]


async def test_a_cancelled_send_that_discord_refuses_is_a_plain_cancellation():
    async def refused() -> discord.Message:
        await asyncio.sleep(0.01)
        raise RuntimeError("Discord said no")

    sending = asyncio.create_task(send_through_cancel(refused()))
    await asyncio.sleep(0)
    sending.cancel()
    with pytest.raises(asyncio.CancelledError) as raised:
        await sending
    assert not isinstance(raised.value, SentThenCancelled)


async def test_a_request_that_does_not_finish_within_the_grace_is_given_up():
    never = asyncio.Event()

    async def hanging() -> discord.Message:
        await never.wait()
        return cast(discord.Message, RecordedMessage("never"))

    inner = asyncio.ensure_future(hanging())
    sending = asyncio.create_task(send_through_cancel(inner, grace=0.05))
    await asyncio.sleep(0)
    sending.cancel()
    with pytest.raises(asyncio.CancelledError) as raised:
        await sending
    assert not isinstance(raised.value, SentThenCancelled)
    assert inner.cancelled()  # not left running after the answer is gone


async def test_an_uncancelled_send_returns_the_message():
    channel = Channel()
    message = await send_through_cancel(channel.send("Hello", None))
    assert channel.messages == [message]
