"""Answers a crash cut off mid-stream: their last message still shows the typing cursor, as if being written.

A clean shutdown closes every answer it interrupts with a note (`INTERRUPTED_NOTE`); a crash (a kill, the machine
going down) leaves the messages as they were. At the next start the records are closed
(`Storage.close_interrupted_answers`) and, once connected, each answer's last message loses its cursor and says
the answer was interrupted. Its text is read from Discord: the record holds an answer's text only once finished.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import discord

from bot.answers.safety import NO_PINGS
from bot.answers.streaming import CURSOR
from bot.errors import MESSAGE_LIMIT, UNREACHABLE
from bot.storage import InterruptedAnswer

log = logging.getLogger(__name__)

CRASH_NOTE = "\n\n*(answer interrupted: the bot stopped unexpectedly while writing it)*"


def mended(content: str) -> str | None:
    """The message's text without its cursor and with the note, within Discord's limit; None when it shows no
    cursor (finished after all, or edited since)."""
    if not content.endswith(CURSOR):
        return None
    text = content[: -len(CURSOR)].rstrip()
    room = MESSAGE_LIMIT - len(CRASH_NOTE)
    if len(text) > room:
        text = text[: room - 1].rstrip() + "…"
    return text + CRASH_NOTE


async def mend_interrupted_answers(client: discord.Client, answers: Sequence[InterruptedAnswer]) -> int:
    """Close the messages of answers a crash cut off (see the module docstring); how many were edited. A message
    gone or out of reach is left as it is (logged)."""
    edited = 0
    for answer in answers:
        if answer.last_message_id is None:
            continue
        try:
            message = await client.get_partial_messageable(answer.channel_id).fetch_message(answer.last_message_id)
            content = mended(message.content)
            if content is not None:
                await message.edit(content=content, allowed_mentions=NO_PINGS)
                edited += 1
        except (discord.HTTPException, *UNREACHABLE) as error:
            log.warning("answer %d: could not close its message after the crash: %r", answer.answer_id, error)
    return edited
