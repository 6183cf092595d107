"""The answer settings (/answers) as moderators read them: the whole list in one message, and what removing the
last answer channel means. Shared by the /answers replies and /setup."""

from __future__ import annotations

from bot.digests.text import excerpt
from bot.mod_log import EVERY_CHANNEL
from bot.storage import GuildSettings

SHOWN_CHANNELS = 20  # listed by name; more are counted ("and 12 more")
SHOWN_INSTRUCTIONS = 600  # characters of the extra instructions shown (they may be 1,500 long)


def describe(settings: GuildSettings) -> str:
    """The settings in one message, within Discord's 2,000 characters however many channels and however long
    the instructions (the full values are stored and used; this only shows them)."""
    listed = [f"<#{c}>" for c in settings.answer_channels[:SHOWN_CHANNELS]]
    if len(settings.answer_channels) > SHOWN_CHANNELS:
        listed.append(f"and {len(settings.answer_channels) - SHOWN_CHANNELS} more")
    instructions = excerpt(settings.instructions, SHOWN_INSTRUCTIONS) if settings.instructions else "none"
    return "\n".join(
        [
            f"Answers in: {', '.join(listed) or EVERY_CHANNEL}",
            f"Cooldown per member: {settings.cooldown_seconds} s",
            f"Daily token budget: {settings.daily_token_budget:,}"
            + (" (answers are switched off until you raise it)" if settings.daily_token_budget == 0 else ""),
            f"Answer language: {settings.answer_language or 'the member’s own'}",
            f"Answers in a new thread per question: {'yes' if settings.answer_in_threads else 'no'}",
            f"Extra instructions: {instructions}",
        ]
    )


def last_channel_removed(daily_token_budget: int) -> str:
    """What removing the last answer channel means: no list is every channel, not none."""
    if daily_token_budget == 0:
        return (
            "That was the last answer channel: **once answers are switched on again (`/answers settings "
            f"daily_token_budget`), I will answer in {EVERY_CHANNEL}.** To limit me, add a channel with "
            "`/answers channel-add`."
        )
    return (
        f"**That was the last answer channel: I now answer in {EVERY_CHANNEL}.** To limit me again, add a "
        "channel with `/answers channel-add`; to stop answering altogether, set `/answers settings "
        "daily_token_budget:0`."
    )
