"""Where an answer's messages go: a channel (as a reply to the question) or an interaction's followups."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

import discord

from bot.answers.safety import NO_PINGS
from bot.answers.streaming import Send, send_through_cancel


def channel_sender(channel: discord.abc.Messageable, reply_to: discord.Message | None) -> Send:
    """The first message replies to the question (without pinging); later parts follow in the channel."""
    sent = 0

    async def send(content: str, view: discord.ui.View | None) -> discord.Message:
        nonlocal sent
        controls = view or discord.utils.MISSING
        if sent == 0 and reply_to is not None:
            # Still answer if the question was deleted meanwhile.
            reference = reply_to.to_reference(fail_if_not_exists=False)
            message = await send_through_cancel(
                channel.send(
                    content, reference=reference, allowed_mentions=NO_PINGS, mention_author=False, view=controls
                )
            )
        else:
            message = await send_through_cancel(channel.send(content, allowed_mentions=NO_PINGS, view=controls))
        sent += 1
        return message

    return send


def private_line_sender(interaction: discord.Interaction) -> Callable[[str], Awaitable[object]]:
    """A line only the asker sees, in place of a deferred public response's "thinking…" (deleted first: the first
    followup would take its place, and be public)."""

    async def say(text: str) -> object:
        with contextlib.suppress(discord.NotFound):  # already gone: the line goes all the same
            await interaction.delete_original_response()
        return await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS, wait=True)

    return say


def followup_sender(interaction: discord.Interaction, *, ephemeral: bool) -> Send:
    """Messages as followups of a deferred interaction (e.g. /ask), optionally seen only by the asker."""

    async def send(content: str, view: discord.ui.View | None) -> discord.Message:
        return await send_through_cancel(
            interaction.followup.send(
                content,
                wait=True,
                ephemeral=ephemeral,
                allowed_mentions=NO_PINGS,
                view=view or discord.utils.MISSING,
            )
        )

    return send
