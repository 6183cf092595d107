"""The real `culturebot run` process killed after Discord made an answer's message and before the bot could link it
to the answer's record (bot/answers/interrupted.py): the next start finds that message and closes it."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3

import pytest

from bot.answers.interrupted import CRASH_NOTE
from bot.answers.streaming import CURSOR
from bot.sandbox.fake_openai import Reply
from tests.e2e.test_scope_commands import run
from tests.e2e.test_shutdown import answers, start_bot_process
from tests.helpers import eventually

SLOW = " ".join(f"w{i}" for i in range(400))
LONG = " ".join(f"word{i}" for i in range(700))  # past 2,000 characters: a second message


@pytest.fixture
def bots(world):
    """Starts the bot process; any still running when the test ends (a failure) is killed."""
    started = []

    async def start():
        started.append(await start_bot_process(world))
        return started[-1]

    yield start
    for process in started:
        if process.returncode is None:
            process.kill()


def links(world) -> list[tuple[int, int, int]]:
    """(message id, answer id, part) of every message linked to an answer."""
    with contextlib.closing(sqlite3.connect(world.tmp_path / "bot.sqlite3")) as conn:
        return conn.execute("SELECT message_id, answer_id, part FROM answer_messages ORDER BY message_id").fetchall()


def kill_when_posted(world, process, *, nth: int = 1) -> asyncio.Event:
    """Kill the bot once the stand-in has shown its `nth` message with the cursor, before the bot hears back from
    Discord (so before it could link the message): the narrowest window a crash can hit. A message is shown when
    posted, or, for /ask, when the first followup fills in the "thinking" response (as Discord does)."""
    core = world.standin.core
    post, edit = core.post_message, core.edit_message
    shown = 0
    killed = asyncio.Event()

    def count(author_id, content):
        nonlocal shown
        if author_id == world.standin.bot_user_id and content.endswith(CURSOR) and not killed.is_set():
            shown += 1
            if shown == nth:
                process.kill()  # before this request's response goes back
                killed.set()

    async def post_message(channel_id, author_id, content="", **fields):
        message = await post(channel_id, author_id, content, **fields)
        count(author_id, content)
        return message

    async def edit_message(message, changes, **fields):
        was_empty = not message.content
        await edit(message, changes, **fields)
        if was_empty:
            count(message.author_id, message.content)
        return message

    core.post_message, core.edit_message = post_message, edit_message
    return killed


async def crash_then_restart(world, process, killed, bots):
    await asyncio.wait_for(killed.wait(), 20)
    await process.wait()
    del world.standin.core.post_message, world.standin.core.edit_message  # the stand-in's own again
    assert answers(world)[0][0] == "streaming", "the record was written before the message was sent"
    return await bots()


async def stop(process):
    process.send_signal(signal.SIGTERM)
    await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0


async def test_a_crash_before_the_first_message_is_linked_leaves_no_cursor(world, bots):
    world.model.script(Reply(SLOW, tokens_per_second=20))
    process = await bots()
    killed = kill_when_posted(world, process)
    await world.standin.send_message(world.channel_id, world.asker_id, world.mention("Tell me slowly"))
    await asyncio.wait_for(killed.wait(), 20)
    [message] = world.standin.bot_messages(world.channel_id)
    assert message.content.endswith(CURSOR)
    assert links(world) == [], "the crash came before the link"
    # A member's message that happens to end like the cursor, sent in the same window: never the bot's to edit.
    sent = await world.standin.send_message(world.channel_id, world.member_id, "typing like the bot" + CURSOR)
    lookalike = int(sent["id"])
    restarted = await crash_then_restart(world, process, killed, bots)

    await eventually(
        lambda: world.standin.message(message.id).content.endswith(CRASH_NOTE), 15, "the message to be closed"
    )
    assert CURSOR not in world.standin.message(message.id).content
    [(outcome, _, error)] = answers(world)
    assert (outcome, error) == ("incomplete", "interrupted by a restart")
    assert links(world) == [(message.id, 1, 0)], "the message is linked to its answer now"
    assert world.standin.message(lookalike).content == "typing like the bot" + CURSOR
    assert not world.standin.find_requests("PATCH", rf"/messages/{lookalike}$")
    await stop(restarted)


async def test_a_crash_before_a_continuation_is_linked_leaves_no_cursor(world, bots):
    world.model.script(Reply(LONG, tokens_per_second=400))
    process = await bots()
    killed = kill_when_posted(world, process, nth=2)
    await world.standin.send_message(world.channel_id, world.asker_id, world.mention("Tell me at length"))
    await asyncio.wait_for(killed.wait(), 30)
    first, second = world.standin.bot_messages(world.channel_id)
    assert not first.content.endswith(CURSOR), "the first message is finished"
    assert links(world) == [(first.id, 1, 0)]
    assert second.content.endswith(CURSOR)
    restarted = await crash_then_restart(world, process, killed, bots)

    await eventually(
        lambda: world.standin.message(second.id).content.endswith(CRASH_NOTE), 15, "the second message to be closed"
    )
    assert CURSOR not in world.standin.message(second.id).content
    assert CRASH_NOTE not in world.standin.message(first.id).content
    assert [(message_id, part) for message_id, _, part in links(world)] == [(first.id, 0), (second.id, 1)]
    await stop(restarted)


async def test_a_crash_before_an_ask_answer_is_linked_leaves_no_cursor(world, bots):
    # /ask has no member's message to search from: the search starts from when the answer's record was written.
    world.model.script(Reply(SLOW, tokens_per_second=20))
    process = await bots()
    killed = kill_when_posted(world, process)
    await run(world, world.asker_id, "ask", {"question": "How do I greet my boss?"})
    await asyncio.wait_for(killed.wait(), 20)
    [message] = [m for m in world.standin.bot_messages(world.channel_id) if m.content.endswith(CURSOR)]
    restarted = await crash_then_restart(world, process, killed, bots)

    await eventually(
        lambda: world.standin.message(message.id).content.endswith(CRASH_NOTE), 15, "the message to be closed"
    )
    assert [message_id for message_id, _, _ in links(world)] == [message.id]
    await stop(restarted)
