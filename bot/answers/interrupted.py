"""Answers a crash cut off mid-stream: their last message still shows the typing cursor, as if being written.

A clean shutdown closes every answer it interrupts with a note (`INTERRUPTED_NOTE`); a crash (a kill, the machine
going down) leaves the messages as they were. At the next start the records are closed
(`Storage.close_interrupted_answers`) and, once connected, each answer's last message loses its cursor and says
the answer was interrupted. Its text is read from Discord: the record holds the text saved while it streamed
(every few seconds, `PROGRESS_EVERY` in pipeline.py), which may lack the last of it.

An answer's record is written before its first message is sent, and each message is linked to the record as soon
as Discord returns its id; a crash in between leaves a message Discord made but no link to it (at most one per
answer: the next message is sent only once the previous one is linked). That message is found in the channel's
history: the bot's own, showing the cursor, linked to no answer, and sent after the answer's last linked message
(or its question, or a minute before its record was written) and before the restart closed the record, so never a
message of an answer written since. It is closed as the others are, and linked to its answer when it is the only
such message of that answer and of no other (two answers cut off together in one channel may both claim one: it
is closed all the same). Discord keeps no message nonces for later reads, so nothing else can tell them apart.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import discord

from bot.answers.safety import NO_PINGS
from bot.answers.splitting import grapheme_cut, open_fence_at
from bot.answers.streaming import CURSOR
from bot.errors import DISCORD_FAILURES, MESSAGE_LIMIT
from bot.storage import InterruptedAnswer

if TYPE_CHECKING:
    from bot.runtime import CultureBot

log = logging.getLogger(__name__)

CRASH_NOTE = "\n\n*(answer interrupted: the bot stopped unexpectedly while writing it)*"
CLOCK_SKEW = timedelta(minutes=1)  # how far this machine's clock may be ahead of Discord's (for /ask answers)
SEARCHED = 100  # messages of an answer's channel read after its last known one (one request)


def mended(content: str) -> str | None:
    """The message's text without its cursor and with the note, within Discord's limit; None when it shows no
    cursor (finished after all, or edited since)."""
    if not content.endswith(CURSOR):
        return None
    text = content[: -len(CURSOR)].rstrip()
    room = MESSAGE_LIMIT - len(CRASH_NOTE)
    fits = room
    while True:
        if len(text) > fits:
            text = text[: grapheme_cut(text, fits - 1)].rstrip() + "…"
        # Cut off inside a code block: closed first, or the note would show as code.
        fence = open_fence_at(text)
        if fence is None:
            return text + CRASH_NOTE
        closed = text.rstrip("\n") + "\n" + fence.closing
        if len(closed) <= room:
            return closed + CRASH_NOTE
        fits = room - len(fence.closing) - 1  # room for the closing line: cut once more


async def mend_interrupted_answers(client: CultureBot, answers: Sequence[InterruptedAnswer]) -> int:
    """Close the messages of answers a crash cut off, linked or not (see the module docstring); how many were
    edited. A message gone or out of reach is left as it is (logged)."""
    edited = 0
    unsettled = []  # answers whose newest message may be one the crash kept from being linked
    for answer in answers:
        if answer.ephemeral:
            continue
        if answer.last_message_id is not None:
            try:
                message = await client.get_partial_messageable(answer.channel_id).fetch_message(answer.last_message_id)
                if await _close(message):
                    edited += 1
                    continue  # it was still being written: no later message was sent
            except DISCORD_FAILURES as error:
                log.warning("answer %d: could not close its message after the crash: %r", answer.answer_id, error)
        unsettled.append(answer)
    return edited + await _close_unlinked(client, unsettled)


async def _close_unlinked(client: CultureBot, answers: Sequence[InterruptedAnswer]) -> int:
    """Find and close the messages the crash kept from being linked; link each to its answer when unambiguous."""
    found: dict[int, discord.Message] = {}
    claims: dict[int, list[InterruptedAnswer]] = defaultdict(list)  # message id: the answers it may belong to
    candidates: dict[int, list[int]] = {}  # answer id: the messages that may be its
    for answer in answers:
        try:
            messages = await _unlinked_messages(client, answer)
        except DISCORD_FAILURES as error:
            log.warning("answer %d: could not read its channel after the crash: %r", answer.answer_id, error)
            continue
        candidates[answer.answer_id] = [message.id for message in messages]
        for message in messages:
            found[message.id] = message
            claims[message.id].append(answer)
    edited = 0
    for message_id, message in sorted(found.items()):
        claimants = claims[message_id]
        owner = claimants[0] if len(claimants) == 1 else None
        try:
            if owner is not None and candidates[owner.answer_id] == [message_id]:
                await client.storage.add_answer_message(owner.answer_id, message_id, owner.channel_id, owner.next_part)
            else:
                log.warning(
                    "message %d: closed, not linked: it may belong to any of answers %s or be one of several",
                    message_id,
                    [answer.answer_id for answer in claimants],
                )
            if await _close(message):
                edited += 1
        except DISCORD_FAILURES as error:
            log.warning("message %d: could not close it after the crash: %r", message_id, error)
    return edited


async def _unlinked_messages(client: CultureBot, answer: InterruptedAnswer) -> list[discord.Message]:
    """The bot's messages that may be the answer's newest, sent but not linked: showing the cursor, linked to no
    answer, in the answer's channel after its last known message and before the restart, and replying to nothing
    but the answer's question (only its first message replies, and only to that)."""
    assert client.user is not None
    start = answer.last_message_id or answer.question_message_id
    if start is None:  # /ask: no message of the member's to start from; the record was written before the first
        start = discord.utils.time_snowflake(_moment(answer.started_at) - CLOCK_SKEW, high=True)
    after = discord.Object(start)
    before = discord.Object(discord.utils.time_snowflake(_moment(answer.closed_at), high=False))
    replies_to = answer.question_message_id if answer.next_part == 0 else None
    found = []
    channel = client.get_partial_messageable(answer.channel_id)
    async for message in channel.history(limit=SEARCHED, after=after, before=before, oldest_first=True):
        if message.author.id != client.user.id or not message.content.endswith(CURSOR):
            continue
        reference = message.reference.message_id if message.reference is not None else None
        if reference is not None and reference != replies_to:
            continue
        if await client.storage.answer_for_message(message.id) is None:
            found.append(message)
    return found


async def _close(message: discord.Message) -> bool:
    """Remove the cursor and add the note; False when the message shows no cursor."""
    content = mended(message.content)
    if content is None:
        return False
    await message.edit(content=content, allowed_mentions=NO_PINGS)
    return True


def _moment(iso: str) -> datetime:
    return datetime.fromisoformat(iso)
