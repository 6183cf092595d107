"""/scope: moderators declare, refine and roll back the server's cultural scope; /culture shows it to everyone."""

from __future__ import annotations

import contextlib
import io
import itertools
import logging
import secrets
from collections.abc import Mapping
from typing import Any, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.answers.senders import followup_sender
from bot.answers.splitting import grapheme_cut
from bot.channel_access import LOG, unusable_reason
from bot.errors import UserFacingError, describe_error, guild_id_of, report_error, text_file
from bot.mod_log import change_settings, post_change, post_to_log
from bot.runtime import CultureBot
from bot.scopes.comparisons import (
    MAX_SHARE_PERCENT,
    MIN_SHARE_PERCENT,
    describe,
    start_comparison,
    stop_comparison,
)
from bot.scopes.document import MAX_SCOPE_BYTES, MAX_SECTION_CHARS
from bot.scopes.edit_forms import field_id, form_id, orphaned_edit
from bot.scopes.editing import new_section_problems
from bot.scopes.manage import (
    NO_SCOPE_MESSAGE,
    cleared_scope_reply,
    current_document,
    diff_versions,
    edit_scope,
    editable_document,
    readable_document,
    refuse_unfixable_in_form,
    rollback_scope,
    stored_version,
    upload_scope,
    use_template,
)
from bot.scopes.problems import ScopeValidationError
from bot.scopes.render import HISTORY_VERSIONS, history_line, history_pages, render_pages
from bot.scopes.templates import list_templates
from bot.storage import Comparison, ScopeVersion

log = logging.getLogger(__name__)

SUMMARY_CHOICE = "summary"
SECTION_PREFIX = "## "  # before a title in /scope edit: that section, even one titled "Summary"
MODAL_TITLE_LIMIT = 45


PAGER_TIMEOUT = 600.0  # seconds the page buttons answer (an interaction's message can be edited for 15 minutes)


class ScopePager(discord.ui.View):
    """Previous/next buttons over rendered pages; only the member who asked can turn them."""

    def __init__(
        self,
        pages: list[str],
        title: str,
        owner_id: int,
        *,
        others: str = "Run `/culture` to page through the scope yourself.",
    ) -> None:
        super().__init__(timeout=PAGER_TIMEOUT)
        self.pages = pages
        self.title = title
        self.owner_id = owner_id
        self.others = others  # told to anyone else who presses a button
        self.index = 0
        self.expired = False
        self._shown: discord.Interaction | None = None
        self._sync_buttons()

    def embed(self) -> discord.Embed:
        embed = discord.Embed(title=self.title[:256], description=self.pages[self.index])
        footer = f"Page {self.index + 1} of {len(self.pages)}"
        if self.expired:
            footer += " · the page buttons have expired: run the command again to turn the pages"
        embed.set_footer(text=footer)
        return embed

    async def show(self, interaction: discord.Interaction, *, ephemeral: bool) -> None:
        """Send the first page, with the buttons when there is more than one page."""
        many = len(self.pages) > 1
        await interaction.response.send_message(
            embed=self.embed(), view=self if many else discord.utils.MISSING, ephemeral=ephemeral
        )
        if many:
            self._shown = interaction

    async def on_timeout(self) -> None:
        # Buttons that no longer answer would fail with Discord's "This interaction failed": they go, and the
        # footer says how to page through again. Edited with the latest interaction's token, whose 15 minutes
        # outlast the 10 of the timeout that the interaction restarted.
        self.expired = True
        if self._shown is not None:
            with contextlib.suppress(discord.HTTPException):
                await self._shown.edit_original_response(embed=self.embed(), view=None)

    def _sync_buttons(self) -> None:
        self.previous.disabled = self.index == 0
        self.next.disabled = self.index >= len(self.pages) - 1

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id != self.owner_id:
            await interaction.response.send_message(self.others, ephemeral=True)
            return False
        return True

    async def _turn(self, interaction: discord.Interaction, step: int) -> None:
        self.index = max(0, min(len(self.pages) - 1, self.index + step))
        self._sync_buttons()
        await interaction.response.edit_message(embed=self.embed(), view=self)
        # Each press restarts the view's timeout, and this press's token (valid 15 minutes) edits the message.
        self._shown = interaction

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction, button: discord.ui.Button[ScopePager]) -> None:
        await self._turn(interaction, -1)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction, button: discord.ui.Button[ScopePager]) -> None:
        await self._turn(interaction, 1)


EDIT_NOT_SAVED = (
    "Something went wrong on the bot's side, so nothing was saved (the bot's log has the details). Your text is "
    "attached: paste it into `/scope edit` again."
)
RESTARTED = "The bot restarted while your form was open. "
FORM_NOT_READ = (
    "It could not tell which part your form edits (a section title that long does not fit in the form's id), so "
    "nothing was saved. Your text is attached: paste it into `/scope edit` again."
)
FORM_NOT_ALLOWED = (
    "You no longer have the Manage Server permission here, so your edit was not saved. Your text is attached."
)


async def give_back(interaction: discord.Interaction, text: str, message: str) -> None:
    """Refuse a form's edit and give the moderator's text back as a file (a form cannot be reopened with it)."""
    await interaction.response.send_message(message, file=text_file("your-edit.md", text), ephemeral=True)


class EditModal(discord.ui.Modal):
    """One text box for the summary or one section, prefilled with the current text. Its ids say what it edits, so
    that a form still open when the bot restarts is saved by the next process (`bot/scopes/edit_forms.py`)."""

    def __init__(self, cog: Scope, section: str | None, current: str, version: int) -> None:
        label = "Summary" if section is None else section
        title = f"Edit: {label}"
        super().__init__(
            title=title[: grapheme_cut(title, MODAL_TITLE_LIMIT)],
            custom_id=form_id(cog.process, next(cog.forms_opened), version),
        )
        self.cog = cog
        self.section = section
        self.started_from = current  # what the moderator is shown, checked again on submit
        field = field_id(section)
        self.text: discord.ui.TextInput[EditModal] = discord.ui.TextInput(
            label=label[: grapheme_cut(label, 45)],
            style=discord.TextStyle.paragraph,
            default=current[:MAX_SECTION_CHARS] or None,
            max_length=MAX_SECTION_CHARS,
            required=True,
            custom_id=field if field is not None else discord.utils.MISSING,
        )
        self.add_item(self.text)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self.cog.save_form_edit(interaction, self.section, self.text.value, self.started_from)

    async def on_error(self, interaction: discord.Interaction, error: Exception, /) -> None:  # type: ignore[override]
        await report_error(interaction, error)


class Scope(commands.Cog):
    scope = app_commands.Group(
        name="scope",
        description="Declare and refine this server's cultural scope",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: CultureBot) -> None:
        self.bot = bot
        self.process = secrets.token_hex(4)  # in the ids of the edit forms this process opens
        self.forms_opened = itertools.count(1)

    # Reading

    @app_commands.command(name="culture", description="Show the cultural scope this bot answers within")
    @app_commands.guild_only()
    async def culture(self, interaction: discord.Interaction) -> None:
        await self._show(interaction, None, ephemeral=True)

    @scope.command(name="show", description="Show the current scope, or an earlier version")
    @app_commands.describe(version="version number (default: current)", ephemeral="only you see it")
    async def show(self, interaction: discord.Interaction, version: int | None = None, ephemeral: bool = True) -> None:
        await self._show(interaction, version, ephemeral=ephemeral)

    async def _show(self, interaction: discord.Interaction, number: int | None, *, ephemeral: bool) -> None:
        guild_id = guild_id_of(interaction)
        if number is None:
            current = await self.bot.storage.current_scope(guild_id)
            if current is None:
                raise UserFacingError(NO_SCOPE_MESSAGE)
            version = current
        else:
            version = await stored_version(self.bot.storage, guild_id, number)
        document = readable_document(self.bot.scope_cache, version, "shown")
        pager = ScopePager(render_pages(document), f"{version.title} (v{version.number})", interaction.user.id)
        await pager.show(interaction, ephemeral=ephemeral)

    @scope.command(name="templates", description="List the shipped starting points")
    async def templates(self, interaction: discord.Interaction) -> None:
        lines = [f"**{t.name}**: {t.title}" for t in list_templates()]
        await interaction.response.send_message(
            "Templates are starting points a community must review and rewrite. Use one with `/scope use`.\n\n"
            + "\n".join(lines),
            ephemeral=True,
        )

    @scope.command(name="download", description="Download the current scope file, or an earlier version's")
    @app_commands.describe(version="version number (default: current)")
    async def download(self, interaction: discord.Interaction, version: int | None = None) -> None:
        # The file as stored, even one that no longer passes validation (to fix it and upload it again).
        if version is None:
            found = await self._current_version(interaction)
        else:
            found = await stored_version(self.bot.storage, guild_id_of(interaction), version)
        data = io.BytesIO(found.content.encode())
        await interaction.response.send_message(
            f"Version {found.number} of **{found.title}**.",
            file=discord.File(data, filename=f"{found.scope_id}-v{found.number}.md"),
            ephemeral=True,
        )

    @scope.command(name="history", description="List the scope's versions")
    async def history(self, interaction: discord.Interaction) -> None:
        guild_id = guild_id_of(interaction)
        versions = await self.bot.storage.scope_history(guild_id, limit=HISTORY_VERSIONS)
        if not versions:
            raise UserFacingError(NO_SCOPE_MESSAGE)
        settings = await self.bot.storage.guild_settings(guild_id)
        lines = [history_line(v, current=v.version_id == settings.current_scope_id) for v in versions]
        pages = history_pages(lines, total=versions[0].number)
        pager = ScopePager(
            pages, "Scope history", interaction.user.id, others="Run `/scope history` to page through it."
        )
        await pager.show(interaction, ephemeral=True)

    @scope.command(name="diff", description="Compare two versions")
    @app_commands.describe(a="older version number", b="newer version number")
    async def diff(self, interaction: discord.Interaction, a: int, b: int) -> None:
        guild_id = guild_id_of(interaction)
        first = await self.bot.storage.scope_version(guild_id, a)
        second = await self.bot.storage.scope_version(guild_id, b)
        missing = [str(n) for n, v in ((a, first), (b, second)) if v is None]
        if first is None or second is None:
            raise UserFacingError(f"No version {' or '.join(missing)}; `/scope history` lists the versions.")
        text = diff_versions(first, second)
        if len(text) <= 1900 and "```" not in text:  # a fence in the text would end the code block early
            await interaction.response.send_message(f"```diff\n{text}```", ephemeral=True)
        else:
            await interaction.response.send_message(
                f"The diff is long ({len(text.splitlines())} lines); here it is as a file.",
                file=discord.File(io.BytesIO(text.encode()), filename=f"scope-v{a}-v{b}.diff"),
                ephemeral=True,
            )

    @scope.command(
        name="preview", description="See privately how the bot answers under the current or a chosen version"
    )
    @app_commands.describe(question="a question members might ask", version="scope version (default: current)")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def preview(
        self, interaction: discord.Interaction, question: app_commands.Range[str, 1, 1500], version: int | None = None
    ) -> None:
        guild_id = guild_id_of(interaction)
        if version is None:
            found = await self.bot.storage.current_scope(guild_id)
        else:
            found = await stored_version(self.bot.storage, guild_id, version)
        scope = readable_document(self.bot.scope_cache, found, "previewed") if found else None
        settings = await self.bot.storage.guild_settings(guild_id)
        if found is None and not settings.allow_unscoped:
            # Members get the refusal, not an answer: show that, and spend no tokens on an answer nobody gets.
            await interaction.response.send_message(NO_SCOPE_PREVIEW, ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        label = f"version {found.number}" if found else "no scope"
        # Refused, like a member's question, when today's token budget is spent: previews cost the same tokens.
        await self.bot.answerer.preview(
            question,
            scope,
            settings,
            followup_sender(interaction, ephemeral=True),
            heading=f"Preview under {label} (not recorded, not shown to members; its tokens count toward today's "
            "token budget):",
        )

    # Changing (Manage Server, checked again when run)

    @scope.command(name="use", description="Start from a shipped template")
    @app_commands.describe(template="template name (see /scope templates)")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def use(self, interaction: discord.Interaction, template: str) -> None:
        change = await use_template(self.bot.storage, guild_id_of(interaction), interaction.user.id, template)
        version = change.version
        await interaction.response.send_message(
            f"The scope is now **{version.title}** (version {version.number}). It is a template: review and "
            "rewrite it with your community (`/scope edit`, or `/scope download` then `/scope upload`)."
            + ended_note(change.ended),
            ephemeral=True,
        )
        await self.log_scope_change(interaction, version.change_summary, version, ended=change.ended)

    @use.autocomplete("template")
    async def _template_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        needle = current.lower()
        return [
            app_commands.Choice(name=f"{t.name}: {t.title}"[:100], value=t.name)
            for t in list_templates()
            if needle in t.name or needle in t.title.lower()
        ][:25]

    @scope.command(name="upload", description="Replace the scope with an uploaded Markdown file")
    @app_commands.describe(
        file="a scope file (.md, UTF-8, at most 64 KB)",
        replace_newer="replace versions saved after the one this file was downloaded as",
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def upload(
        self, interaction: discord.Interaction, file: discord.Attachment, replace_newer: bool = False
    ) -> None:
        if file.size > MAX_SCOPE_BYTES:
            raise UserFacingError(
                f"`{file.filename}` is {file.size:,} bytes; a scope file may be at most {MAX_SCOPE_BYTES:,} bytes. "
                "Shorten its sections, or split the community into narrower scopes."
            )
        await interaction.response.defer(ephemeral=True, thinking=True)
        data = await file.read()
        change = await upload_scope(
            self.bot.storage,
            self.bot.scope_cache,
            guild_id_of(interaction),
            interaction.user.id,
            data,
            file.filename,
            replace_newer=replace_newer,
        )
        version = change.version
        await interaction.followup.send(
            f"Saved as version {version.number}: {version.change_summary}{ended_note(change.ended)}", ephemeral=True
        )
        await self.log_scope_change(interaction, version.change_summary, version, ended=change.ended)

    @scope.command(name="edit", description="Edit the summary or one section in a form")
    @app_commands.describe(
        section="'summary' or a section title ('## Summary' for a section of that name); a new title adds a section"
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def edit(self, interaction: discord.Interaction, section: str) -> None:
        version, document = await editable_document(self.bot.storage, self.bot.scope_cache, guild_id_of(interaction))
        name = section.strip()
        if name.lower() == SUMMARY_CHOICE:
            refuse_unfixable_in_form(version, document, None, summary=True)
            await interaction.response.send_modal(EditModal(self, None, document.metadata.summary, version.number))
            return
        # "## Title" names a section explicitly: the way to a section titled like the summary choice.
        name = name.removeprefix(SECTION_PREFIX).strip()
        existing = document.section(name)
        refuse_unfixable_in_form(version, document, existing)
        if existing is None and (problems := new_section_problems(document, name)):
            raise ScopeValidationError(problems)
        title = existing.title if existing else name
        await interaction.response.send_modal(EditModal(self, title, existing.body if existing else "", version.number))

    @edit.autocomplete("section")
    async def _section_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        try:
            found = await current_document(self.bot.storage, self.bot.scope_cache, guild_id_of(interaction))
        except ScopeValidationError:
            found = None  # /scope edit explains why it cannot edit this version
        titles = [s.title for s in found[1].sections] if found else []
        # A section titled like the summary choice is offered as "## Summary", which names the section.
        names = [SUMMARY_CHOICE] + [SECTION_PREFIX + t if t.lower() == SUMMARY_CHOICE else t for t in titles]
        return [app_commands.Choice(name=n[:100], value=n[:100]) for n in names if current.lower() in n.lower()][:25]

    @scope.command(name="rollback", description="Make an earlier version current again (as a new version)")
    @app_commands.describe(version="the version number to restore")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def rollback(self, interaction: discord.Interaction, version: int) -> None:
        change = await rollback_scope(self.bot.storage, guild_id_of(interaction), interaction.user.id, version)
        restored = change.version
        await interaction.response.send_message(
            f"Version {version} is current again, saved as version {restored.number}.{ended_note(change.ended)}",
            ephemeral=True,
        )
        await self.log_scope_change(interaction, restored.change_summary, restored, ended=change.ended)

    @scope.command(name="clear", description="Remove the declared scope (its versions are kept)")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def clear(self, interaction: discord.Interaction) -> None:
        guild_id = guild_id_of(interaction)
        cleared = await self.bot.storage.clear_scope(guild_id, interaction.user.id)
        if cleared is None:
            raise UserFacingError("There is no declared scope to clear.")
        settings = await self.bot.storage.guild_settings(guild_id)
        await interaction.response.send_message(
            cleared_scope_reply(settings.allow_unscoped) + ended_note(cleared.ended), ephemeral=True
        )
        await self.log_scope_change(interaction, "cleared the scope", None, ended=cleared.ended)

    @scope.command(name="settings", description="Unscoped answers and the moderation log channel")
    @app_commands.describe(
        allow_unscoped="answer with a visible note when no scope is declared",
        log_channel="where scope changes and other moderator actions are posted",
        log_off="True: post the moderation log nowhere (log_channel chooses a channel again; False changes nothing)",
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def settings(
        self,
        interaction: discord.Interaction,
        allow_unscoped: bool | None = None,
        log_channel: discord.TextChannel | None = None,
        log_off: bool | None = None,
    ) -> None:
        guild_id = guild_id_of(interaction)
        if log_off and log_channel is not None:
            raise UserFacingError(
                f"Nothing was changed: `log_channel` posts the moderation log in {log_channel.mention} and "
                "`log_off:True` posts it nowhere. Give one of them."
            )
        changes: dict[str, object] = {}
        if allow_unscoped is not None:
            changes["allow_unscoped"] = int(allow_unscoped)
        if log_channel is not None:
            if (reason := unusable_reason(log_channel, LOG, "post the moderation log", "/scope settings")) is not None:
                raise UserFacingError(reason)
            changes["log_channel_id"] = log_channel.id
        if log_off:
            changes["log_channel_id"] = None
        change = await change_settings(self.bot.storage, guild_id, interaction.user.id, "scope settings", changes)
        updated = change.after
        log_text = (
            f"<#{updated.log_channel_id}>"
            if updated.log_channel_id
            else "none, so the moderation log is off (`log_channel` chooses a channel)"
        )
        await interaction.response.send_message(
            ("Nothing changed: these are the settings already. " if changes and not change.changed else "")
            + f"Unscoped answers: **{'allowed, with a note' if updated.allow_unscoped else 'off'}**. "
            f"Moderation log channel: {log_text}.",
            ephemeral=True,
        )
        await post_change(self.bot, interaction.user.id, change)
        moved_from = change.before.log_channel_id
        if change.changed and moved_from is not None and moved_from != updated.log_channel_id:
            # The channel the log leaves hears where it went (or that it was switched off): a log cannot be moved
            # away or silenced unnoticed.
            said = change.log_text
            if updated.log_channel_id is None:
                said += (
                    ". The moderation log is off: nothing more is posted here until `/scope settings log_channel` "
                    "chooses a channel"
                )
            await post_to_log(self.bot, moved_from, interaction.user.id, said)

    # Randomized comparisons of versions (bot/scopes/comparisons.py)

    @scope.command(name="compare", description="Answer a random share of members under another version, to compare fit")
    @app_commands.describe(
        version="the version to compare with the current one (see /scope history)",
        share="percent of members answered under that version (default 50)",
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def compare(
        self,
        interaction: discord.Interaction,
        version: int,
        share: app_commands.Range[int, MIN_SHARE_PERCENT, MAX_SHARE_PERCENT] = 50,
    ) -> None:
        started = await start_comparison(
            self.bot.storage, guild_id_of(interaction), interaction.user.id, version, share
        )
        await interaction.response.send_message(
            f"{describe(started)} Each member is assigned at random and keeps their version; answers record it, "
            "and the digest compares the two. Any scope change ends the comparison; `/scope compare-stop` ends it.",
            ephemeral=True,
        )
        await self.log_scope_change(
            interaction,
            f"started comparison #{started.comparison_id}: version {started.current.number} against version "
            f"{started.alternative.number} for {started.alternative_share:.0%} of members",
            None,
        )

    @scope.command(name="compare-status", description="The running comparison of scope versions and recent ones")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def compare_status(self, interaction: discord.Interaction) -> None:
        recent = await self.bot.storage.comparisons(guild_id_of(interaction), limit=5)
        if not recent:
            text = "No comparison has run in this server; `/scope compare` starts one."
        else:
            lines = [("Running: " if c.ended_at is None else "") + describe(c) for c in recent]
            if recent[0].ended_at is not None:
                lines.insert(0, "No comparison is running.")
            text = "\n".join(lines)
        await interaction.response.send_message(text, ephemeral=True)

    @scope.command(
        name="compare-stop", description="Stop the running comparison (every member gets the current version)"
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def compare_stop(self, interaction: discord.Interaction) -> None:
        ended = await stop_comparison(self.bot.storage, guild_id_of(interaction), interaction.user.id)
        await interaction.response.send_message(
            f"{describe(ended)} Every member is answered under the current version again.", ephemeral=True
        )
        await self.log_scope_change(interaction, f"stopped comparison #{ended.comparison_id}", None)

    # Helpers

    async def _current_version(self, interaction: discord.Interaction) -> ScopeVersion:
        version = await self.bot.storage.current_scope(guild_id_of(interaction))
        if version is None:
            raise UserFacingError(NO_SCOPE_MESSAGE)
        return version

    async def save_form_edit(
        self, interaction: discord.Interaction, section: str | None, text: str, started_from: str, *, note: str = ""
    ) -> None:
        """Save a submitted edit form's text, or give it back as a file with the reason (nothing typed is lost)."""
        assert interaction.guild_id is not None
        try:
            change = await edit_scope(
                self.bot.storage,
                self.bot.scope_cache,
                interaction.guild_id,
                interaction.user.id,
                section=section,
                text=text,
                started_from=started_from,
            )
        except (UserFacingError, ScopeValidationError) as refused:
            # A form cannot be reopened with the moderator's text: it comes back as a file.
            await give_back(interaction, text, note + describe_error(refused).message)
            return
        except Exception:  # the bot's failure (the database, say): the text comes back all the same
            log.exception("server %d: a scope edit could not be saved", interaction.guild_id)
            await give_back(interaction, text, note + EDIT_NOT_SAVED)
            return
        version = change.version
        await interaction.response.send_message(
            f"{note}Saved as version {version.number}.{ended_note(change.ended)}", ephemeral=True
        )
        await self.log_scope_change(interaction, version.change_summary, version, ended=change.ended)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """An edit form opened before the bot restarted: no form object of this process handles its submission."""
        if interaction.type is not discord.InteractionType.modal_submit or interaction.guild_id is None:
            return
        edit = orphaned_edit(cast("Mapping[str, Any]", interaction.data or {}), self.process)
        if edit is None:
            return
        log.info("server %d: an edit form opened before a restart was submitted", interaction.guild_id)
        if not edit.known:
            await give_back(interaction, edit.text, RESTARTED + FORM_NOT_READ)
            return
        if not interaction.permissions.manage_guild:
            await give_back(interaction, edit.text, RESTARTED + FORM_NOT_ALLOWED)
            return
        try:
            version = await stored_version(self.bot.storage, interaction.guild_id, edit.version)
            shown = readable_document(self.bot.scope_cache, version, "edited in a form").part_text(edit.section)
        except UserFacingError as refused:
            await give_back(interaction, edit.text, RESTARTED + describe_error(refused).message)
            return
        except Exception:
            log.exception("server %d: an edit form from before a restart could not be read", interaction.guild_id)
            await give_back(interaction, edit.text, RESTARTED + EDIT_NOT_SAVED)
            return
        await self.save_form_edit(interaction, edit.section, edit.text, shown, note=RESTARTED)

    async def log_scope_change(
        self,
        interaction: discord.Interaction,
        what: str,
        version: ScopeVersion | None,
        *,
        ended: Comparison | None = None,
    ) -> None:
        """Tell the moderation log channel about a scope change (`ended`: the comparison it ended)."""
        settings = await self.bot.storage.guild_settings(guild_id_of(interaction))
        suffix = f" (now version {version.number})" if version else ""
        if ended is not None:
            suffix += f"; this ended comparison #{ended.comparison_id}"
        await post_to_log(self.bot, settings.log_channel_id, interaction.user.id, what + suffix)


NO_SCOPE_PREVIEW = (
    "No preview: there is no declared scope and unscoped answers are off, so members asking now get this refusal:\n"
    f"> {NO_SCOPE_MESSAGE}\n"
    "To answer without a scope (with a visible note that the answer is general), set `/scope settings "
    "allow_unscoped:True`; to preview an earlier version, give `version` (`/scope history` lists them)."
)


def ended_note(ended: Comparison | None) -> str:
    """What a scope change says when it ended a running comparison."""
    if ended is None:
        return ""
    return (
        f" This ended comparison #{ended.comparison_id} (its arms were versions {ended.current.number} and "
        f"{ended.alternative.number}); its answers stay in the digests."
    )


async def setup(bot: CultureBot) -> None:
    await bot.add_cog(Scope(bot))
