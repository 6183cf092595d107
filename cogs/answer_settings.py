"""/answers: moderators choose where the bot answers, its limits, extra instructions and language."""

from __future__ import annotations

import re

import discord
from discord import app_commands
from discord.ext import commands

from bot.answers.settings_text import describe, last_channel_removed
from bot.channel_access import ANSWERS, THREADS, threads_refusal, unusable_reason
from bot.errors import UserFacingError
from bot.locks import KeyedLocks
from bot.mod_log import change_settings, post_change
from bot.runtime import CultureBot
from bot.wording import cleared

_LANGUAGE_TAG = re.compile(r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")


def channel_name(channel: discord.abc.GuildChannel) -> str:
    """A channel by name ("#ask"), as Discord shows a mention (which the settings list below it already holds)."""
    return f"#{discord.utils.escape_markdown(channel.name)}"


class AnswerSettings(commands.Cog):
    answers = app_commands.Group(
        name="answers",
        description="Where and how the bot answers in this server",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: CultureBot) -> None:
        self.bot = bot
        # The channel list is read, changed and written back: two moderators adding channels at once would
        # otherwise each write the list without the other's channel.
        self._changing = KeyedLocks()

    async def _update(self, interaction: discord.Interaction, changes: dict[str, object], said: str = "") -> None:
        """Apply the changes that change something, reply with the settings (after `said`, or saying that nothing
        changed), then tell the moderation log."""
        assert interaction.guild_id is not None
        change = await change_settings(self.bot.storage, interaction.guild_id, interaction.user.id, "answers", changes)
        if changes and not change.changed:
            said = said or "Nothing changed: these are the settings already."
        await interaction.response.send_message("\n".join(filter(None, [said, describe(change.after)])), ephemeral=True)
        await post_change(self.bot, interaction.user.id, change)

    @answers.command(name="settings", description="Show or change limits, instructions and language")
    @app_commands.describe(
        cooldown_seconds="seconds a member waits between questions (0 = none)",
        daily_token_budget="tokens the server may use per day (UTC), in and out (0 switches answers off)",
        instructions="extra instructions for the model, e.g. 'keep answers under 150 words'; 'none' clears",
        language="always answer in this language (BCP-47, e.g. id or vi); 'member' = the member's own",
        threads="start a thread from each question and answer there",
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def settings(
        self,
        interaction: discord.Interaction,
        cooldown_seconds: app_commands.Range[int, 0, 3600] | None = None,
        daily_token_budget: app_commands.Range[int, 0, 100_000_000] | None = None,
        instructions: app_commands.Range[str, 1, 1500] | None = None,
        language: app_commands.Range[str, 2, 35] | None = None,
        threads: bool | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        # Under the channel list's lock: a channel added meanwhile, checked for answering without threads, would
        # otherwise miss the thread permissions checked here.
        async with self._changing.hold(interaction.guild_id):
            changes: dict[str, object] = {}
            if threads is not None:
                if threads and interaction.guild is not None:
                    # The answer channels were checked for answering without threads when they were added.
                    channels = (await self.bot.storage.guild_settings(interaction.guild.id)).answer_channels
                    if (reason := threads_refusal(interaction.guild, channels)) is not None:
                        raise UserFacingError(reason)
                changes["answer_in_threads"] = int(threads)
            if cooldown_seconds is not None:
                changes["cooldown_seconds"] = cooldown_seconds
            if daily_token_budget is not None:
                changes["daily_token_budget"] = daily_token_budget
            if instructions is not None:
                changes["instructions"] = cleared(instructions)
            if language is not None:
                if language.lower() == "member":
                    changes["answer_language"] = None
                elif not _LANGUAGE_TAG.match(language):
                    raise UserFacingError(f"`{language}` is not a language tag; use one like `id`, `vi` or `pt-BR`.")
                else:
                    changes["answer_language"] = language
            await self._update(interaction, changes)

    @answers.command(name="channel-add", description="Answer in this channel (once any is added, only in those)")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def channel_add(self, interaction: discord.Interaction, channel: discord.TextChannel) -> None:
        assert interaction.guild_id is not None
        async with self._changing.hold(interaction.guild_id):
            settings = await self.bot.storage.guild_settings(interaction.guild_id)
            needed = {**ANSWERS, **THREADS} if settings.answer_in_threads else ANSWERS
            if (reason := unusable_reason(channel, needed, "answer", "/answers channel-add")) is not None:
                raise UserFacingError(reason)
            current = settings.answer_channels
            if channel.id in current:
                said = f"Nothing changed: {channel_name(channel)} is in the list already."
            else:
                said = f"Added {channel_name(channel)}." + ("" if current else " I answer only there now.")
            await self._update(interaction, {"answer_channels": [*dict.fromkeys((*current, channel.id))]}, said)

    @answers.command(name="channel-remove", description="Stop answering in this channel")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def channel_remove(self, interaction: discord.Interaction, channel: discord.TextChannel) -> None:
        assert interaction.guild_id is not None
        async with self._changing.hold(interaction.guild_id):
            settings = await self.bot.storage.guild_settings(interaction.guild_id)
            if channel.id not in settings.answer_channels:
                raise UserFacingError(f"{channel.mention} is not in the list; `/answers settings` shows it.")
            remaining = [c for c in settings.answer_channels if c != channel.id]
            said = f"Removed {channel_name(channel)}."
            if not remaining:
                said += " " + last_channel_removed(settings.daily_token_budget)
            await self._update(interaction, {"answer_channels": remaining}, said)


async def setup(bot: CultureBot) -> None:
    await bot.add_cog(AnswerSettings(bot))
