"""/answers: moderators choose where the bot answers, its limits, extra instructions and language."""

from __future__ import annotations

import re
from collections.abc import Callable

import discord
from discord import app_commands
from discord.ext import commands

from bot.answer_channels import choices, deleted_label, listed_names, pick, sharing_name
from bot.answers.settings_text import describe, last_channel_removed
from bot.channel_access import answering_needs, threads_refusal, unusable_reason
from bot.deleted_channels import forget_channels_gone, forget_deleted_channels
from bot.errors import UserFacingError
from bot.mod_log import Changes, SettingsChange, change_settings, post_change
from bot.runtime import CultureBot
from bot.storage import GuildSettings
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

    async def _update(
        self,
        interaction: discord.Interaction,
        changes: Changes,
        said: Callable[[SettingsChange], str] | None = None,
        *,
        asked: bool = True,
    ) -> None:
        """Apply the changes that change something (worked out from the settings just before, under the server's
        lock, when `changes` is a function), reply with the settings (after what `said` says of the change, or that
        nothing changed when something was `asked`), then tell the moderation log."""
        assert interaction.guild_id is not None
        change = await change_settings(self.bot.storage, interaction.guild_id, interaction.user.id, "answers", changes)
        text = said(change) if said is not None else ""
        if asked and not change.changed:
            text = text or "Nothing changed: these are the settings already."
        await interaction.response.send_message("\n".join(filter(None, [text, describe(change.after)])), ephemeral=True)
        await post_change(self.bot, interaction.user.id, change)

    @answers.command(name="settings", description="Show or change limits, instructions and language")
    @app_commands.describe(
        cooldown_seconds="seconds a member waits between questions (0 = none)",
        daily_token_budget="tokens the server may use per day (UTC), in and out (0 switches answers off)",
        instructions="extra instructions for the model, e.g. 'keep answers under 150 words'; 'none' clears",
        language="always answer in this language (BCP-47, e.g. id or vi); 'member' (or 'none') = the member's own",
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
        changes: dict[str, object] = {}
        if cooldown_seconds is not None:
            changes["cooldown_seconds"] = cooldown_seconds
        if daily_token_budget is not None:
            changes["daily_token_budget"] = daily_token_budget
        if instructions is not None:
            changes["instructions"] = cleared(instructions)
        if language is not None:
            if language.lower() in ("member", "none"):  # "none" clears, as it does the other text settings
                changes["answer_language"] = None
            elif not _LANGUAGE_TAG.match(language):
                raise UserFacingError(
                    f"`{language}` is not a language tag; use one like `id`, `vi` or `pt-BR`, or `member` to answer "
                    "in each member's own language."
                )
            else:
                changes["answer_language"] = language
        guild = interaction.guild

        def with_threads(settings: GuildSettings) -> dict[str, object]:
            # Checked against the answer channels as they are when the change is made (under the server's lock): a
            # channel added meanwhile was checked for answering without threads only.
            if threads and guild is not None and (reason := threads_refusal(guild, settings.answer_channels)):
                raise UserFacingError(reason)
            return changes if threads is None else {"answer_in_threads": int(threads), **changes}

        await self._update(interaction, with_threads, asked=bool(changes) or threads is not None)

    @answers.command(name="channel-add", description="Answer in this channel (once any is added, only in those)")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def channel_add(
        self, interaction: discord.Interaction, channel: discord.TextChannel | discord.ForumChannel
    ) -> None:
        guild = interaction.guild

        def adding(settings: GuildSettings) -> dict[str, object]:
            needed = answering_needs(
                threads=settings.answer_in_threads,
                rating_controls=settings.rating_controls,
                forum=isinstance(channel, discord.ForumChannel),
            )
            if (reason := unusable_reason(channel, needed, "answer", "/answers channel-add")) is not None:
                raise UserFacingError(reason)
            if channel.id in settings.answer_channels:
                return {}
            listed = settings.answer_channels
            if guild is not None:  # channels deleted since they were listed go (kept so that I answered nowhere)
                listed = tuple(listed_names(guild, listed))
            return {"answer_channels": [*listed, channel.id]}

        def said(change: SettingsChange) -> str:
            before = change.before.answer_channels
            if channel.id in before:
                return f"Nothing changed: {channel_name(channel)} is in the list already."
            dropped = [c for c in before if c not in change.after.answer_channels]
            if not dropped:
                return f"Added {channel_name(channel)}." + ("" if before else " I answer only there now.")
            return f"Added {channel_name(channel)}; took {', '.join(map(deleted_label, dropped))} off the list."

        await self._update(interaction, adding, said)

    @answers.command(name="channel-remove", description="Stop answering in a listed channel (also one since deleted)")
    @app_commands.describe(channel="a channel in the list; one deleted since is offered as 'deleted channel <id>'")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def channel_remove(self, interaction: discord.Interaction, channel: app_commands.Range[str, 1, 120]) -> None:
        guild = interaction.guild
        removed: list[int] = []

        def removing(settings: GuildSettings) -> dict[str, object]:
            listed = settings.answer_channels
            names = listed_names(guild, listed)
            picked = pick(listed, names, channel)
            if picked is None:
                typed = channel.replace("`", "")[:100]
                if len(shared := sharing_name(listed, names, channel)) > 1:
                    raise UserFacingError(
                        f"{len(shared)} listed channels are called `{typed}`. Pick the one you mean from those "
                        "`/answers channel-remove` offers as you type: each shows its channel id."
                    )
                raise UserFacingError(
                    f"`{typed}` is not in the list of answer channels. Pick one of those `/answers channel-remove` "
                    "offers as you type; `/answers settings` shows the list."
                )
            removed.append(picked)
            return {"answer_channels": [c for c in listed if c != picked]}

        def said(change: SettingsChange) -> str:
            [picked] = removed
            found = guild.get_channel(picked) if guild is not None else None
            text = f"Removed {channel_name(found) if found is not None else deleted_label(picked)}."
            if not change.after.answer_channels:
                text += " " + last_channel_removed(change.after.daily_token_budget)
            return text

        await self._update(interaction, removing, said)

    @channel_remove.autocomplete("channel")
    async def _listed_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        listed = (await self.bot.storage.guild_settings(interaction.guild_id)).answer_channels
        found = choices(listed, listed_names(interaction.guild, listed), current)
        return [app_commands.Choice(name=name, value=value) for name, value in found]

    # Channels deleted (bot/deleted_channels.py): answer channels leave the list (not the last), the log channel is
    # cleared, the moderation log is told.

    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        await forget_deleted_channels(self.bot, self.bot.storage, channel.guild.id, [channel.id])

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        # At start-up (and after an outage): channels deleted while the bot was offline sent it no event.
        await forget_channels_gone(self.bot, self.bot.storage, guild)


async def setup(bot: CultureBot) -> None:
    await bot.add_cog(AnswerSettings(bot))
