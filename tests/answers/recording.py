"""A recording stand-in for the Discord channel StreamingReply sends to and the messages it edits."""

from __future__ import annotations

from typing import Any, cast

import discord


class RecordedMessage:
    """What a sent message showed, edit after edit."""

    def __init__(self, content: str) -> None:
        self.shown = [content]

    async def edit(self, *, content: str, **_: Any) -> None:
        self.shown.append(content)


class Channel:
    """Records sent messages; gives up past `max_messages`, so that a reply stuck in a loop fails the test."""

    def __init__(self, max_messages: int = 100) -> None:
        self.messages: list[RecordedMessage] = []
        self._max_messages = max_messages

    async def send(self, content: str, view: discord.ui.View | None) -> discord.Message:
        if len(self.messages) >= self._max_messages:
            raise AssertionError("the reply kept sending messages")
        message = RecordedMessage(content)
        self.messages.append(message)
        return cast(discord.Message, message)

    def final(self) -> list[str]:
        """What each message shows at the end."""
        return [message.shown[-1] for message in self.messages]
