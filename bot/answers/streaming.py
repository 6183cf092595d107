"""Stream an answer into Discord messages as the model writes it.

The first message goes out as soon as the first text arrives; it is then edited at most once per
`edit_interval` seconds. Past Discord's 2,000 characters the answer continues in a new message,
cut where `take_message` says (no split words or code blocks). A cursor marks a message still being
written; the final edit removes it, so a reader can tell a finished answer from a running one.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import discord

from bot.answers.safety import NO_PINGS, shown_text
from bot.answers.splitting import DISCORD_MESSAGE_LIMIT, grapheme_cut, open_fence_at, take_message
from bot.llm.reasoning import Restart

CURSOR = " ▌"
TRUNCATED_NOTE = "\n\n*(answer shortened: it reached this server's length limit)*"

SEND_GRACE = 5.0  # seconds a cancelled answer still waits for a message Discord is making

OnMessage = Callable[[discord.Message, int], Awaitable[None]]
# Posts one new message of the answer (with optional controls) and returns it, ready to be edited.
Send = Callable[[str, discord.ui.View | None], Awaitable[discord.Message]]


class SentThenCancelled(asyncio.CancelledError):
    """A cancellation (a shutdown) that came while Discord was making a message: `message` is the one it made."""

    def __init__(self, message: discord.Message) -> None:
        super().__init__()
        self.message = message


async def send_through_cancel(sending: Awaitable[discord.Message], grace: float = SEND_GRACE) -> discord.Message:
    """The message `sending` makes. When cancelled meanwhile, the request may already be at Discord, which then
    makes the message whether or not the bot hears back: the request is given up to `grace` seconds to finish,
    and `SentThenCancelled` carries the message it made, so that the cancelled answer closes it (rather than
    leave it showing the cursor, linked to no answer). Other failures are raised as the cancellation."""
    task = asyncio.ensure_future(sending)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        try:
            await asyncio.wait([task], timeout=grace)  # a second cancellation ends this wait as well
        finally:
            if not task.done():
                task.cancel()
        if not task.done() or task.cancelled() or task.exception() is not None:
            raise  # the cancellation
        raise SentThenCancelled(task.result()) from None


class StreamingReply:
    """Renders a growing answer into one or more Discord messages."""

    def __init__(
        self,
        send: Send,
        *,
        edit_interval: float = 1.0,
        max_chars: int = 6000,
        limit: int = DISCORD_MESSAGE_LIMIT,
        on_message: OnMessage | None = None,
    ) -> None:
        self._send = send
        self._edit_interval = edit_interval
        self._max_chars = max_chars
        self._limit = limit
        self._on_message = on_message
        self.messages: list[discord.Message] = []
        self.ended = False  # the final text is shown (by `finish`): a failure after it loses no text
        self.text = ""  # the whole answer as accepted, for the record
        self.truncated = False
        self._current = ""  # text of the part being written
        self._current_message: discord.Message | None = None
        self._displayed: str | None = None  # exactly what that message shows now
        self._last_render = 0.0
        self._last_shown = ""

    async def push(self, delta: str, *, more: bool = True) -> None:
        """Add model text; sends or edits messages when due.

        `more=False` says this is the last text: it is shown by `finish`, so no edit is spent on it now.
        A `Restart` (bot/llm/reasoning.py) says the text so far was the model's reasoning: the answer starts
        again in the first message with the restart's text, and any further messages are deleted.
        """
        if isinstance(delta, Restart):
            await self._restart()
            delta = str(delta)
        if self.truncated or not delta:
            return
        room = self._max_chars - len(self.text)
        if len(delta) > room:
            cut = delta[:room]
            if not delta[room].isspace() and not cut[-1:].isspace():
                # Mid-word: end at the word before it (the note says the answer was shortened) when it is in
                # this piece, rather than show "ga" of "gamma".
                space = max(cut.rfind(" "), cut.rfind("\n"))
                cut = cut[:space].rstrip() if space >= 0 else delta[: grapheme_cut(delta, room)]
            delta = cut
            self.truncated = True
        self.text += delta
        self._current += delta
        # Defusing adds a character per mass mention, so the defused part may be longer (by at most its
        # count of "@"); it is only defused here when that could take it past the limit.
        if len(self._current) + self._current.count("@") > self._limit - len(CURSOR):
            self._current = shown_text(self._current)
        # A full part is finished (with no cursor, so all of the limit is its) and the rest starts the next one.
        # A part within the cursor's two characters of the limit waits: the answer may end there, in one message.
        while len(self._current) > self._limit:
            head, rest = take_message(self._current, self._limit)
            self._current = head
            await self._render(final=True)
            self._start_part(rest)
        due = self._current_message is None or time.monotonic() - self._last_render >= self._edit_interval
        if due and more:
            await self._render(final=False)

    def next_render_in(self) -> float:
        """Seconds until text pushed now would be shown (0 when it would be shown at once)."""
        if self._current_message is None:
            return 0.0
        return max(0.0, self._last_render + self._edit_interval - time.monotonic())

    async def finish(self, note: str = "", *, view: discord.ui.View | None = None) -> list[discord.Message]:
        """Final edit: remove the cursor, append `note` (e.g. why the answer is incomplete), attach `view`."""
        if self.truncated:
            note = TRUNCATED_NOTE + note
        self._current = shown_text(self._current)  # its final length, for the room check below
        if not self.text.strip() and self.messages:
            # Only reasoning was shown (then taken back, see `push`) and no answer followed: remove it.
            for message in self.messages:
                with contextlib.suppress(discord.NotFound):
                    await message.delete()
            self._reset()
        if not self.messages and not self._current.strip():
            return self.messages  # nothing was ever shown; the caller explains instead
        # An answer that stopped inside a code block: close the block first, or the note would render as code.
        closed = await self._close_fence() if note.strip() else self._current
        if len(closed) + len(note) > self._limit:
            self._current = closed
            await self._render(final=True)
            self._start_part(note.strip())  # a part of its own, outside any block
        else:
            self._current = closed + note
        if not self._current.strip():
            # The part a split left over is only whitespace, so there is nothing to send: the controls go on
            # the last message instead, so every answer ends with them.
            self.ended = True
            if view is not None:
                await self.messages[-1].edit(content=self._last_shown, allowed_mentions=NO_PINGS, view=view)
            return self.messages
        await self._render(final=True, view=view)
        self.ended = True
        return self.messages

    async def _close_fence(self) -> str:
        """The part being written with the code block it ends in (if any) closed. When the closing line does
        not fit, the part is cut as `take_message` cuts a block: closed in a finished message, reopened in the
        next, which is then closed."""
        while True:
            open_fence = open_fence_at(self._current)
            if open_fence is None:
                return self._current
            closed = self._current.rstrip("\n") + "\n" + open_fence.closing
            if len(closed) <= self._limit:
                return closed
            head, rest = take_message(self._current, self._limit - (len(closed) - len(self._current)))
            self._current = head
            await self._render(final=True)
            self._start_part(rest)  # shorter than the part it was cut from, so this ends

    async def _restart(self) -> None:
        """Start the answer again: the first message stays (edited when text comes), the others go."""
        first = self.messages[0] if self.messages else None
        for message in self.messages[1:]:
            with contextlib.suppress(discord.NotFound):
                await message.delete()
        displayed = self._displayed if self._current_message is first else None
        self._reset()
        if first is not None:
            self.messages.append(first)
            self._current_message = first
            self._displayed = displayed
            self._last_render = 0.0  # the reasoning it shows is replaced by the next text at once

    def _reset(self) -> None:
        self.messages = []
        self.text = ""
        self.truncated = False
        self._start_part("")

    def _start_part(self, text: str) -> None:
        self._current = text
        self._current_message = None
        self._displayed = None

    async def _render(self, *, final: bool, view: discord.ui.View | None = None) -> None:
        if not self._current.strip():
            return
        # Defused as a whole when shown: a mention the model wrote across two tokens ("@", "everyone") is
        # caught too. Defusing is idempotent, so text defused before stays as it is.
        self._current = shown_text(self._current)
        content = self._current if final else self._current + CURSOR
        if not final and len(content) > self._limit:
            return  # no room for the cursor yet: shown when more text (a new part) or the end comes
        if self._current_message is None:
            try:
                self._current_message = await self._send(content, view)
            except SentThenCancelled as cancelled:
                # Known, so that the cancelled answer's closing edit (`finish`) reaches it.
                self._current_message = cancelled.message
                self.messages.append(cancelled.message)
                self._displayed = self._last_shown = content
                raise
            self.messages.append(self._current_message)
            if self._on_message is not None:
                await self._on_message(self._current_message, len(self.messages) - 1)
        elif content != self._displayed or view is not None:
            if view is None:
                await self._current_message.edit(content=content, allowed_mentions=NO_PINGS)
            else:
                await self._current_message.edit(content=content, allowed_mentions=NO_PINGS, view=view)
        self._displayed = content
        self._last_shown = content  # what the last message shows, even once a new part has started
        self._last_render = time.monotonic()

    async def send_line(self, text: str) -> discord.Message:
        """A one-off line in place of an answer (e.g. why there is none); not part of the answer."""
        return await self._send(text, None)
