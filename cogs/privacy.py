"""/privacy: members see, export, change and delete what culturebot holds about them."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
from typing import Any, Self, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.answers.safety import NO_PINGS
from bot.errors import DISCORD_FAILURES, guild_id_of, report_error
from bot.feedback.consent import GENERAL_HEADING, consent_version, notice_text
from bot.feedback.custom_ids import NO_PENDING
from bot.feedback.forget_confirm import (
    FORGET_EXPIRED,
    FORGET_LISTENS,
    FORGET_NOT_YOURS,
    FORGET_TEMPLATE,
    ForgetClick,
    ForgetId,
    confirmation_ids,
)
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


class ForgetButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=FORGET_TEMPLATE):
    """One of the two buttons under the `/privacy forget` confirmation ("Delete everything", "Cancel"). Its id carries
    who asked, when, and which button it is (bot/feedback/forget_confirm.py): a click after a restart is answered
    as one before it."""

    def __init__(self, forget_id: ForgetId) -> None:
        label, style = (
            ("Delete everything", discord.ButtonStyle.danger)
            if forget_id.confirm
            else ("Cancel", discord.ButtonStyle.secondary)
        )
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=forget_id.build()))
        self.forget_id = forget_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(ForgetId.from_match(match))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            cog = cast("CultureBot", interaction.client).get_cog(Privacy.__cog_name__)
            if not isinstance(cog, Privacy):
                raise RuntimeError("the privacy commands are not loaded")
            await cog.answer_forget(interaction, self.forget_id)
        except Exception as error:
            await report_error(interaction, error)


def forget_confirmation(member_id: int) -> discord.ui.View:
    """The buttons for the member who ran /privacy forget ("Delete everything", "Cancel"), stamped with now."""
    view = discord.ui.View(timeout=None)
    for forget_id in confirmation_ids(member_id):
        view.add_item(ForgetButton(forget_id))
    return view


class Privacy(commands.Cog):
    privacy = app_commands.Group(name="privacy", description="What culturebot keeps about you, and your choices")

    def __init__(self, bot: CultureBot) -> None:
        self.bot = bot
        # Of this process only: a restart forgets them, and the buttons' ids still say when each request expires.
        self._expiry_notes: dict[int, asyncio.Task[None]] = {}  # confirmation message id: its "expired" note
        self._answering: set[int] = set()  # confirmations whose "Delete everything" is being answered

    async def cog_load(self) -> None:
        # The confirmation's buttons keep working across restarts, like the controls under answers.
        self.bot.add_dynamic_items(ForgetButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(ForgetButton)
        for note in self._expiry_notes.values():
            note.cancel()
        self._expiry_notes.clear()

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
            notice_text(settings, url, heading=GENERAL_HEADING) + PRIVACY_CONSENT_SUFFIX,
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
        sent = await interaction.response.send_message(
            "This deletes your ratings, reasons, comments, consent records and questions in every server. "
            "It cannot be undone.",
            view=forget_confirmation(interaction.user.id),
            ephemeral=True,
        )
        if sent.message_id is not None:
            self._expiry_notes[sent.message_id] = asyncio.create_task(self._expire(interaction, sent.message_id))

    async def _expire(self, asked: discord.Interaction, message_id: int) -> None:
        """Once the buttons stop working, take them away with a note, so that none is left on screen that only
        refuses (within the 15 minutes the request's message can be edited; after a restart, a late click on them
        gets the note instead)."""
        await asyncio.sleep(FORGET_LISTENS)
        self._expiry_notes.pop(message_id, None)
        if message_id in self._answering:
            return
        with contextlib.suppress(*DISCORD_FAILURES):
            await asked.edit_original_response(content=FORGET_EXPIRED, view=None)

    async def answer_forget(self, interaction: discord.Interaction, forget_id: ForgetId) -> None:
        """A click on the confirmation: only the member who asked, within `FORGET_LISTENS` of asking."""
        click = forget_id.clicked_by(interaction.user.id)
        if click is ForgetClick.NOT_YOURS:
            await interaction.response.send_message(FORGET_NOT_YOURS, ephemeral=True)
            return
        message_id = interaction.message.id if interaction.message is not None else interaction.id
        if message_id in self._answering:
            await interaction.response.defer()  # clicked again while the deletion runs: its summary follows
            return
        if (note := self._expiry_notes.pop(message_id, None)) is not None:
            note.cancel()  # answered: no "expired" note over the answer later
        if click is ForgetClick.EXPIRED:
            await interaction.response.edit_message(content=FORGET_EXPIRED, view=None)
        elif click is ForgetClick.CANCEL:
            await interaction.response.edit_message(content="Nothing was deleted.", view=None)
        else:
            self._answering.add(message_id)  # no second deletion
            try:
                await self._forget(interaction)
            finally:
                self._answering.discard(message_id)

    async def _forget(self, interaction: discord.Interaction) -> None:
        # Deferred: renaming the threads named after the member's questions can take a few requests.
        await interaction.response.defer()
        self.bot.answerer.forget(interaction.user.id)  # questions of theirs still waiting are not recorded after
        self.bot.dispatch(MEMBER_FORGOTTEN, interaction.user.id)  # nor reactions waiting for their consent
        # Digests being made are made again without the member; those not posted yet are kept on disk as files,
        # with texts now deleted from the database: they go too, and are remade from the database when sent.
        async with self.bot.deleting_member_data() as deletion:
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


async def setup(bot: CultureBot) -> None:
    await bot.add_cog(Privacy(bot))
