"""/privacy: members see, export, change and delete what culturebot holds about them."""

from __future__ import annotations

import contextlib
import io

import discord
from discord import app_commands
from discord.ext import commands

from bot.answers.safety import NO_PINGS
from bot.digests.deletion import deleting
from bot.errors import UNREACHABLE, guild_id_of, report_error
from bot.feedback.consent import consent_version, notice_text
from bot.feedback.custom_ids import NO_PENDING
from bot.feedback.privacy import (
    MEMBER_FORGOTTEN,
    RENAME_LATER,
    export_member,
    forget_member,
    rename_question_threads,
    status_text,
)
from bot.feedback.views import consent_view
from bot.runtime import CultureBot

# After the notice in /privacy consent (within consent.MAX_PREFACE, like every text shown with the notice).
PRIVACY_CONSENT_SUFFIX = "\n\nChoosing less than before deletes what you gave beyond it in this server."


FORGET_LISTENS = 600.0  # seconds the confirmation's buttons work (its message can be edited for 15 minutes)
FORGET_EXPIRED = "This request expired, so nothing was deleted. Run `/privacy forget` again to delete your data."


class ForgetConfirm(discord.ui.View):
    """One more click before deleting everything; only the member who asked can click.

    It listens for 10 minutes (within the 15 during which its message can still be edited), then its buttons are
    taken away with a note, so that no button is left on screen that does nothing when clicked."""

    def __init__(self, bot: CultureBot, asked: discord.Interaction) -> None:
        super().__init__(timeout=FORGET_LISTENS)
        self.bot = bot
        self.user_id = asked.user.id
        self.asked = asked

    async def on_timeout(self) -> None:
        with contextlib.suppress(discord.HTTPException, *UNREACHABLE):
            await self.asked.edit_original_response(content=FORGET_EXPIRED, view=None)

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[ForgetConfirm], /
    ) -> None:
        await report_error(interaction, error)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return interaction.user.id == self.user_id

    @discord.ui.button(label="Delete everything", style=discord.ButtonStyle.danger)
    async def confirm(self, interaction: discord.Interaction, button: discord.ui.Button[ForgetConfirm]) -> None:
        self.stop()  # answered: no second deletion, and no "expired" note over the summary later
        # Deferred: renaming the threads named after the member's questions can take a few requests.
        await interaction.response.defer()
        self.bot.answerer.forget(interaction.user.id)  # questions of theirs still waiting are not recorded after
        self.bot.dispatch(MEMBER_FORGOTTEN, interaction.user.id)  # nor reactions waiting for their consent
        # Digests being made are made again without the member; those not posted yet are kept on disk as files,
        # with texts now deleted from the database: they go too, and are remade from the database when sent.
        async with deleting(self.bot.jobs.digests if self.bot.jobs is not None else None) as deletion:
            summary = await forget_member(self.bot.privacy, self.bot.pseudonyms, interaction.user.id)
            deletion.deleted = True
        text = summary.text
        if summary.question_threads:
            done = await rename_question_threads(self.bot, self.bot.storage, summary.question_threads)
            text += f" Threads named after your questions renamed: {done.renamed} of {len(summary.question_threads)}."
            if done.retrying:
                text += RENAME_LATER
        await interaction.edit_original_response(content=text, view=None)
        if deletion.discarding is not None:
            await deletion.discarding

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction, button: discord.ui.Button[ForgetConfirm]) -> None:
        self.stop()
        await interaction.response.edit_message(content="Nothing was deleted.", view=None)


class Privacy(commands.Cog):
    privacy = app_commands.Group(name="privacy", description="What culturebot keeps about you, and your choices")

    def __init__(self, bot: CultureBot) -> None:
        self.bot = bot

    @privacy.command(name="status", description="What you agreed to and what is stored about you")
    @app_commands.guild_only()
    async def status(self, interaction: discord.Interaction) -> None:
        # guild_only on a subcommand is not enforced (the group is offered in DMs for export and forget).
        guild_id = guild_id_of(interaction)
        text = await status_text(self.bot.storage, self.bot.pseudonyms, guild_id, interaction.user.id)
        await interaction.response.send_message(text, ephemeral=True)

    @privacy.command(name="consent", description="Read the research notice and choose (or change) what is kept")
    @app_commands.guild_only()
    async def consent(self, interaction: discord.Interaction) -> None:
        settings = await self.bot.storage.guild_settings(guild_id_of(interaction))
        url = str(self.bot.settings.privacy_url) if self.bot.settings.privacy_url else None
        await interaction.response.send_message(
            notice_text(settings, url) + PRIVACY_CONSENT_SUFFIX,
            view=consent_view(0, NO_PENDING, consent_version(settings)),
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )

    @privacy.command(name="export", description="Get everything stored about you as a file")
    async def export(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        data = await export_member(self.bot.storage, self.bot.pseudonyms, interaction.user.id)
        await interaction.followup.send(
            "Everything culturebot stores linked to you:",
            file=discord.File(io.BytesIO(data), filename="culturebot-my-data.json"),
            ephemeral=True,
        )

    @privacy.command(name="forget", description="Delete everything stored about you, in every server")
    async def forget(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            "This deletes your ratings, reasons, comments, consent records and questions in every server. "
            "It cannot be undone.",
            view=ForgetConfirm(self.bot, interaction),
            ephemeral=True,
        )


async def setup(bot: CultureBot) -> None:
    await bot.add_cog(Privacy(bot))
